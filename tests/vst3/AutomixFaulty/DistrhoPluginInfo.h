// AutomixFaulty: a test plugin for automix (passes audio through, or breaks it on request).
#ifndef DISTRHO_PLUGIN_INFO_H_INCLUDED
#define DISTRHO_PLUGIN_INFO_H_INCLUDED

#define DISTRHO_PLUGIN_BRAND "automix tests"
#define DISTRHO_PLUGIN_NAME  "AutomixFaulty"
#define DISTRHO_PLUGIN_URI   "urn:automix:tests:faulty"

#define DISTRHO_PLUGIN_HAS_UI       0
#define DISTRHO_PLUGIN_IS_RT_SAFE   1
#define DISTRHO_PLUGIN_NUM_INPUTS   2
#define DISTRHO_PLUGIN_NUM_OUTPUTS  2
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Stereo"

#endif
