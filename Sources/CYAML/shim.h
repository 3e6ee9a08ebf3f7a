#ifndef PODAGENT_CYAML_SHIM_H
#define PODAGENT_CYAML_SHIM_H

// libyaml (Debian libyaml-dev), linked statically by PodAgentKit: the YAML parser `podagent simulate`
// reads manifests with (Sources/PodAgentKit/Simulation/YAMLDocument.swift).
#include <yaml.h>

#endif
