// AutomixGain: a test plugin for automix (gain in dB + polarity), built by tests/vst3/build.py.
#ifndef DISTRHO_PLUGIN_INFO_H_INCLUDED
#define DISTRHO_PLUGIN_INFO_H_INCLUDED

#define DISTRHO_PLUGIN_BRAND "automix tests"
#define DISTRHO_PLUGIN_NAME  "AutomixGain"
#define DISTRHO_PLUGIN_URI   "urn:automix:tests:gain"

#define DISTRHO_PLUGIN_HAS_UI       0
#define DISTRHO_PLUGIN_IS_RT_SAFE   1
#define DISTRHO_PLUGIN_NUM_INPUTS   2
#define DISTRHO_PLUGIN_NUM_OUTPUTS  2
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Stereo"

#endif
