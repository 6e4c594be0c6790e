// AutomixFaulty: passes audio through. With "Fault" on, every output sample from 0.5 s of
// processing (counted from activation, i.e. from the host's reset) onward is replaced according
// to "Kind": NaN (default), +Inf, or silence. "Kind" is an enumerated (list) parameter.
#include "DistrhoPlugin.hpp"

#include <cmath>
#include <limits>

START_NAMESPACE_DISTRHO

class AutomixFaulty : public Plugin
{
public:
    AutomixFaulty()
        : Plugin(kParamCount, 0, 0),
          fFault(0.0f),
          fKind(0.0f),
          fFrames(0) {}

protected:
    enum { kParamFault = 0, kParamKind, kParamCount };

    const char* getLabel() const override { return "AutomixFaulty"; }
    const char* getDescription() const override { return "Writes NaN after 0.5 s when asked (automix test plugin)"; }
    const char* getMaker() const override { return "automix tests"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override { return d_version(1, 0, 0); }
    int64_t getUniqueId() const override { return d_cconst('A', 'm', 'F', 'y'); }

    void initParameter(uint32_t index, Parameter& parameter) override
    {
        switch (index)
        {
        case kParamFault:
            parameter.hints = kParameterIsAutomatable | kParameterIsBoolean;
            parameter.name = "Fault";
            parameter.symbol = "fault";
            parameter.ranges.min = 0.0f;
            parameter.ranges.max = 1.0f;
            parameter.ranges.def = 0.0f;
            break;
        case kParamKind:
        {
            parameter.hints = kParameterIsAutomatable | kParameterIsInteger;
            parameter.name = "Kind";
            parameter.symbol = "kind";
            parameter.ranges.min = 0.0f;
            parameter.ranges.max = 2.0f;
            parameter.ranges.def = 0.0f;
            ParameterEnumerationValue* const values = new ParameterEnumerationValue[3];
            values[0].value = 0.0f;
            values[0].label = "NaN";
            values[1].value = 1.0f;
            values[1].label = "Infinity";
            values[2].value = 2.0f;
            values[2].label = "Silence";
            parameter.enumValues.count = 3;
            parameter.enumValues.restrictedMode = true;
            parameter.enumValues.values = values;
            break;
        }
        }
    }

    float getParameterValue(uint32_t index) const override
    {
        return index == kParamFault ? fFault : fKind;
    }

    void setParameterValue(uint32_t index, float value) override
    {
        if (index == kParamFault)
            fFault = value;
        else if (index == kParamKind)
            fKind = value;
    }

    void activate() override
    {
        fFrames = 0;
    }

    void run(const float** inputs, float** outputs, uint32_t frames) override
    {
        const uint64_t onset = static_cast<uint64_t>(0.5 * getSampleRate());
        const int kind = static_cast<int>(std::lround(fKind));
        const float bad = kind == 0 ? std::numeric_limits<float>::quiet_NaN()
                        : kind == 1 ? std::numeric_limits<float>::infinity()
                        : 0.0f;
        for (uint32_t i = 0; i < frames; ++i)
        {
            const bool broken = fFault > 0.5f && fFrames + i >= onset;
            for (uint32_t c = 0; c < 2; ++c)
                outputs[c][i] = broken ? bad : inputs[c][i];
        }
        fFrames += frames;
    }

private:
    float fFault;
    float fKind;
    uint64_t fFrames;

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(AutomixFaulty)
};

Plugin* createPlugin()
{
    return new AutomixFaulty();
}

END_NAMESPACE_DISTRHO
