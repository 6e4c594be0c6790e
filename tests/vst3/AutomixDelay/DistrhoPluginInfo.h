// AutomixDelay: a test plugin for automix (a pure delay that reports its latency).
#ifndef DISTRHO_PLUGIN_INFO_H_INCLUDED
#define DISTRHO_PLUGIN_INFO_H_INCLUDED

#define DISTRHO_PLUGIN_BRAND "automix tests"
#define DISTRHO_PLUGIN_NAME  "AutomixDelay"
#define DISTRHO_PLUGIN_URI   "urn:automix:tests:delay"

#define DISTRHO_PLUGIN_HAS_UI       0
#define DISTRHO_PLUGIN_IS_RT_SAFE   1
#define DISTRHO_PLUGIN_NUM_INPUTS   2
#define DISTRHO_PLUGIN_NUM_OUTPUTS  2
#define DISTRHO_PLUGIN_WANT_LATENCY 1
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Delay|Stereo"

#endif
