/// The payload the kubelet's volume plugins hand to the atomic writer, per volume kind:
/// configMap / secret `MakePayload` (pkg/volume/configmap, pkg/volume/secret), downwardAPI `CollectData`
/// (pkg/volume/downwardapi) and projected `collectData` (pkg/volume/projected).
struct VolumePayloads {
    let pod: PodSpec
    let view: DownwardAPIView
    let objects: ManifestSet
    /// Issues service-account tokens for projected `serviceAccountToken` sources (`path` → token).
    let token: (_ audience: String, _ expirationSeconds: Int64, _ path: String) -> String

    func payload(for volume: Volume) throws(PodDataError) -> [String: FileProjection] {
        func failMount(_ message: String) -> PodDataError {
            PodDataError(file: pod.sourceFile, fieldPath: volume.fieldPath,
                         message: "volume \"\(volume.name)\": \(message) — the kubelet would keep the pod in ContainerCreating (FailedMount)")
        }
        switch volume.source {
        case .configMap(let source), .secret(let source):
            let kind: ConfigObject.Kind
            if case .configMap = volume.source { kind = .configMap } else { kind = .secret }
            return try objectPayload(kind, source, fail: failMount)
        case .downwardAPI(let items, let defaultMode):
            return try downwardPayload(items, defaultMode: defaultMode)
        case .projected(let sources, let defaultMode):
            var payload: [String: FileProjection] = [:]
            for source in sources {
                switch source {
                case .configMap(var object):
                    object.defaultMode = defaultMode
                    payload.merge(try objectPayload(.configMap, object, fail: failMount)) { _, new in new }
                case .secret(var object):
                    object.defaultMode = defaultMode
                    payload.merge(try objectPayload(.secret, object, fail: failMount)) { _, new in new }
                case .downwardAPI(let items):
                    payload.merge(try downwardPayload(items, defaultMode: defaultMode)) { _, new in new }
                case .serviceAccountToken(let audience, let expiration, let path):
                    // With fsGroup / fsUser the kubelet uses 0600 here; simulate applies neither.
                    payload[path] = FileProjection(data: Array(token(audience, expiration, path).utf8), mode: defaultMode, fsUser: nil)
                }
            }
            return payload
        case .other(let kind):
            throw failMount("\(kind) volumes are not written by the kubelet's atomic writer")
        }
    }

    /// MakePayload: all keys (data then binaryData) with `defaultMode`, or just `items` with their modes.
    /// A missing optional object yields an empty payload; a missing key fails unless optional.
    private func objectPayload(_ kind: ConfigObject.Kind, _ source: ObjectVolumeSource,
                               fail: (String) -> PodDataError) throws(PodDataError) -> [String: FileProjection] {
        let object: ConfigObject
        if let found = objects.object(kind, named: source.name) {
            object = found
        } else if kind == .configMap, source.name == "kube-root-ca.crt" {
            object = ConfigObject(kind: .configMap, name: source.name, namespace: pod.namespace,
                                  stringData: ["ca.crt": ServiceAccountProjection.simulatedCACertificate],
                                  binaryData: [:], sourceFile: "(simulated cluster CA)")
        } else if source.optional {
            return [:]
        } else {
            throw fail("\(kind == .configMap ? "configmap" : "secret") \"\(source.name)\" not found in namespace \(pod.namespace) (pass it with --object, or mark it optional)")
        }
        func bytes(_ key: String) -> [UInt8]? {
            if kind == .configMap, let s = object.stringData[key] { return Array(s.utf8) }
            return object.binaryData[key]
        }
        var payload: [String: FileProjection] = [:]
        if source.items.isEmpty {
            for key in object.stringData.keys where kind == .configMap {
                payload[key] = FileProjection(data: Array(object.stringData[key]!.utf8), mode: source.defaultMode, fsUser: nil)
            }
            for (key, data) in object.binaryData {
                payload[key] = FileProjection(data: data, mode: source.defaultMode, fsUser: nil)
            }
        } else {
            for item in source.items {
                guard let data = bytes(item.key) else {
                    if source.optional { continue }
                    throw fail("\(kind == .configMap ? "configmap" : "secret") references non-existent \(kind == .configMap ? "config" : "secret") key: \(item.key)")
                }
                payload[item.path] = FileProjection(data: data, mode: item.mode ?? source.defaultMode, fsUser: nil)
            }
        }
        return payload
    }

    /// CollectData: each item at `filepath.Clean(path)` with its own mode or `defaultMode`.
    private func downwardPayload(_ items: [DownwardAPIItem], defaultMode: UInt32) throws(PodDataError) -> [String: FileProjection] {
        var payload: [String: FileProjection] = [:]
        for item in items {
            var data: [UInt8] = []
            if let ref = item.fieldRef {
                guard let value = view.fieldValue(ref.fieldPath) else {
                    throw PodDataError(file: pod.sourceFile, fieldPath: item.fieldPath, message: "unsupported fieldPath: \(ref.fieldPath)")
                }
                data = Array(value.utf8)
            } else if let ref = item.resourceFieldRef {
                data = Array(try view.resourceValue(ref, current: nil).utf8)
            }
            payload[AtomicWriter.cleanPath(item.path)] = FileProjection(data: data, mode: item.mode ?? defaultMode, fsUser: nil)
        }
        return payload
    }
}

