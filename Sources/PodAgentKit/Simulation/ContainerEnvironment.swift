/// A container's environment as the kubelet builds it (kubernetes `pkg/kubelet/kubelet_pods.go`
/// makeEnvironmentVariables):
/// 1. `envFrom` sources in order, each key (with `prefix`) overriding earlier ones; a missing optional
///    source is skipped, a missing required one fails the container (CreateContainerConfigError).
/// 2. `env` in declaration order: a non-empty `value` is `$(VAR)`-expanded against the variables so far
///    and then the service variables; otherwise `valueFrom` is resolved.
/// 3. Service variables not already defined are added.
/// The kubelet hands the runtime a Go map's iteration order; this returns the names sorted.
struct ContainerEnvironment {
    let pod: PodSpec
    let view: DownwardAPIView
    let objects: ManifestSet

    func variables(for container: Container, containerPath: String) throws(PodDataError) -> [(name: String, value: String)] {
        var env: [String: String] = [:]
        func missing(_ fieldPath: String, _ message: String) -> PodDataError {
            PodDataError(file: pod.sourceFile, fieldPath: fieldPath,
                         message: "\(message) — the kubelet would fail this container with CreateContainerConfigError")
        }
        for (i, source) in container.envFrom.enumerated() {
            let kind: ConfigObject.Kind = source.kind == .configMap ? .configMap : .secret
            guard let object = objects.object(kind, named: source.name) else {
                if source.optional { continue }
                throw missing("\(containerPath).envFrom[\(i)]", "\(kind.rawValue.lowercased()) \"\(source.name)\" not found in namespace \(pod.namespace) (pass it with --object, or mark it optional)")
            }
            let keys = kind == .configMap ? Array(object.stringData.keys) : Array(object.binaryData.keys)
            for key in keys {
                env[source.prefix + key] = object.envValue(key)
            }
        }
        let service = view.runtime.serviceEnv
        for variable in container.env {
            var value = variable.value
            if !value.isEmpty {
                value = EnvExpansion.expand(value, EnvExpansion.mapping([env, service]))
            } else if let from = variable.valueFrom {
                switch from {
                case .fieldRef(let selector):
                    guard let v = view.envFieldValue(selector.fieldPath) else {
                        throw missing(variable.fieldPath, "unsupported fieldPath \(selector.fieldPath)")
                    }
                    value = v
                case .resourceFieldRef(let ref):
                    value = try view.resourceValue(ref, current: container)
                case .configMapKeyRef(let selector), .secretKeyRef(let selector):
                    let kind: ConfigObject.Kind
                    if case .configMapKeyRef = from { kind = .configMap } else { kind = .secret }
                    guard let object = objects.object(kind, named: selector.name) else {
                        if selector.optional { continue }
                        throw missing(variable.fieldPath, "\(kind.rawValue.lowercased()) \"\(selector.name)\" not found in namespace \(pod.namespace)")
                    }
                    guard let v = object.envValue(selector.key) else {
                        if selector.optional { continue }
                        throw missing(variable.fieldPath, "couldn't find key \(selector.key) in \(kind.rawValue) \(pod.namespace)/\(selector.name)")
                    }
                    value = v
                }
            }
            env[variable.name] = value
        }
        for (name, value) in service where env[name] == nil {
            env[name] = value
        }
        return env.map { (name: $0.key, value: $0.value) }.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }
}
