// AutomixGain: output = input * 10^(gain_dB / 20), times -1 when Invert is on.
// Parameters: 0 "Gain" (dB, -60..+24, default 0, linear in dB), 1 "Invert" (boolean, default off).
#include "DistrhoPlugin.hpp"

#include <cmath>

START_NAMESPACE_DISTRHO

class AutomixGain : public Plugin
{
public:
    AutomixGain()
        : Plugin(kParamCount, 0, 0),
          fGainDb(0.0f),
          fInvert(0.0f) {}

protected:
    enum { kParamGain = 0, kParamInvert, kParamCount };

    const char* getLabel() const override { return "AutomixGain"; }
    const char* getDescription() const override { return "Gain in dB and polarity (automix test plugin)"; }
    const char* getMaker() const override { return "automix tests"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override { return d_version(1, 0, 0); }
    int64_t getUniqueId() const override { return d_cconst('A', 'm', 'G', 'n'); }

    void initParameter(uint32_t index, Parameter& parameter) override
    {
        switch (index)
        {
        case kParamGain:
            parameter.hints = kParameterIsAutomatable;
            parameter.name = "Gain";
            parameter.symbol = "gain";
            parameter.unit = "dB";
            parameter.ranges.min = -60.0f;
            parameter.ranges.max = 24.0f;
            parameter.ranges.def = 0.0f;
            break;
        case kParamInvert:
            parameter.hints = kParameterIsAutomatable | kParameterIsBoolean;
            parameter.name = "Invert";
            parameter.symbol = "invert";
            parameter.ranges.min = 0.0f;
            parameter.ranges.max = 1.0f;
            parameter.ranges.def = 0.0f;
            break;
        }
    }

    float getParameterValue(uint32_t index) const override
    {
        return index == kParamGain ? fGainDb : fInvert;
    }

    void setParameterValue(uint32_t index, float value) override
    {
        if (index == kParamGain)
            fGainDb = value;
        else if (index == kParamInvert)
            fInvert = value;
    }

    void run(const float** inputs, float** outputs, uint32_t frames) override
    {
        // computed in double so the factor is 10^(g/20) to float precision
        const double sign = fInvert > 0.5f ? -1.0 : 1.0;
        const float factor = static_cast<float>(sign * std::pow(10.0, static_cast<double>(fGainDb) / 20.0));
        for (uint32_t c = 0; c < 2; ++c)
            for (uint32_t i = 0; i < frames; ++i)
                outputs[c][i] = inputs[c][i] * factor;
    }

private:
    float fGainDb;
    float fInvert;

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(AutomixGain)
};

Plugin* createPlugin()
{
    return new AutomixGain();
}

END_NAMESPACE_DISTRHO
