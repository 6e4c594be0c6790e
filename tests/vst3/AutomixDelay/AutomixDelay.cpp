// AutomixDelay: delays both channels by "Delay" samples (integer, 0..512, default 64) and
// reports that delay to the host as its latency, like a look-ahead limiter or a linear-phase EQ.
#include "DistrhoPlugin.hpp"

#include <cmath>
#include <cstring>

START_NAMESPACE_DISTRHO

static const uint32_t kMaxDelay = 512;
static const uint32_t kDefaultDelay = 64;
static const uint32_t kRing = 1024;  // power of two > kMaxDelay

class AutomixDelay : public Plugin
{
public:
    AutomixDelay()
        : Plugin(1, 0, 0),
          fDelay(kDefaultDelay),
          fWrite(0)
    {
        clear();
        setLatency(fDelay);
    }

protected:
    const char* getLabel() const override { return "AutomixDelay"; }
    const char* getDescription() const override { return "A delay that reports itself as latency (automix test plugin)"; }
    const char* getMaker() const override { return "automix tests"; }
    const char* getLicense() const override { return "MIT"; }
    uint32_t getVersion() const override { return d_version(1, 0, 0); }
    int64_t getUniqueId() const override { return d_cconst('A', 'm', 'D', 'l'); }

    void initParameter(uint32_t, Parameter& parameter) override
    {
        parameter.hints = kParameterIsAutomatable | kParameterIsInteger;
        parameter.name = "Delay";
        parameter.symbol = "delay";
        parameter.unit = "samples";
        parameter.ranges.min = 0.0f;
        parameter.ranges.max = static_cast<float>(kMaxDelay);
        parameter.ranges.def = static_cast<float>(kDefaultDelay);
    }

    float getParameterValue(uint32_t) const override
    {
        return static_cast<float>(fDelay);
    }

    void setParameterValue(uint32_t, float value) override
    {
        long v = std::lround(value);
        if (v < 0) v = 0;
        if (v > static_cast<long>(kMaxDelay)) v = kMaxDelay;
        fDelay = static_cast<uint32_t>(v);
    }

    void activate() override
    {
        clear();
        setLatency(fDelay);
    }

    void run(const float** inputs, float** outputs, uint32_t frames) override
    {
        setLatency(fDelay);
        for (uint32_t i = 0; i < frames; ++i)
        {
            const uint32_t read = (fWrite + kRing - fDelay) & (kRing - 1);
            for (uint32_t c = 0; c < 2; ++c)
            {
                fRing[c][fWrite] = inputs[c][i];  // written first, so a delay of 0 passes through
                outputs[c][i] = fRing[c][read];
            }
            fWrite = (fWrite + 1) & (kRing - 1);
        }
    }

private:
    void clear()
    {
        std::memset(fRing, 0, sizeof(fRing));
        fWrite = 0;
    }

    uint32_t fDelay;
    uint32_t fWrite;
    float fRing[2][kRing];

    DISTRHO_DECLARE_NON_COPYABLE_WITH_LEAK_DETECTOR(AutomixDelay)
};

Plugin* createPlugin()
{
    return new AutomixDelay();
}

END_NAMESPACE_DISTRHO
