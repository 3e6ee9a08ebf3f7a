/// Parses `spec` of a pod (template) into `PodSpec`, applying the API server's defaulting and rejecting
/// what its validation would reject for the fields podagent uses.
enum PodSpecParser {
    static func parse(spec: ManifestNode, name: String, namespace: String, uid: String?,
                      labels: [String: String], annotations: [String: String], file: String) throws(ManifestError) -> PodSpec {
        var serviceAccount = try spec["serviceAccountName"]?.string() ?? ""
        if serviceAccount.isEmpty { serviceAccount = try spec["serviceAccount"]?.string() ?? "" }
        if serviceAccount.isEmpty { serviceAccount = "default" }
        var pod = PodSpec(
            name: name, namespace: namespace,
            uid: uid ?? DeterministicName.uid("pod/\(namespace)/\(name)"),
            labels: labels, annotations: annotations,
            nodeName: try spec["nodeName"]?.string() ?? "",
            serviceAccountName: serviceAccount,
            automountServiceAccountToken: try spec["automountServiceAccountToken"]?.bool(),
            enableServiceLinks: try spec["enableServiceLinks"]?.bool() ?? true,
            containers: [], initContainers: [], volumes: [], sourceFile: file)
        guard let containers = spec["containers"], !(try containers.sequence()).isEmpty else {
            throw spec.error("a pod needs at least one container in spec.containers")
        }
        pod.containers = try containers.sequence().map { node throws(ManifestError) in try parseContainer(node) }
        pod.initContainers = try (spec["initContainers"]?.sequence() ?? []).map { node throws(ManifestError) in try parseContainer(node) }
        pod.volumes = try (spec["volumes"]?.sequence() ?? []).map { node throws(ManifestError) in try parseVolume(node) }

        var seen = Set<String>()
        for (container, path) in pod.allContainers {
            if !seen.insert(container.name).inserted {
                throw ManifestError(file: file, fieldPath: "\(path).name", message: "duplicate container name \"\(container.name)\"")
            }
        }
        var volumeNames = Set<String>()
        for volume in pod.volumes where !volumeNames.insert(volume.name).inserted {
            throw ManifestError(file: file, fieldPath: volume.fieldPath, message: "duplicate volume name \"\(volume.name)\"")
        }
        for (container, path) in pod.allContainers {
            for (i, mount) in container.volumeMounts.enumerated() where !volumeNames.contains(mount.name) {
                throw ManifestError(file: file, fieldPath: "\(path).volumeMounts[\(i)].name",
                                    message: "volume \"\(mount.name)\" is not declared in spec.volumes")
            }
        }
        return pod
    }

    static func parseContainer(_ node: ManifestNode) throws(ManifestError) -> Container {
        guard let name = try node["name"]?.string(), !name.isEmpty else { throw node.error("container needs a name") }
        var container = Container(name: name, env: [], envFrom: [], requests: [:], limits: [:], volumeMounts: [])
        for item in try node["env"]?.sequence() ?? [] {
            container.env.append(try parseEnvVar(item))
        }
        for item in try node["envFrom"]?.sequence() ?? [] {
            let prefix = try item["prefix"]?.string() ?? ""
            if let ref = item["configMapRef"] {
                container.envFrom.append(EnvFromSource(kind: .configMap, name: try requiredName(ref), prefix: prefix,
                                                       optional: try ref["optional"]?.bool() ?? false))
            } else if let ref = item["secretRef"] {
                container.envFrom.append(EnvFromSource(kind: .secret, name: try requiredName(ref), prefix: prefix,
                                                       optional: try ref["optional"]?.bool() ?? false))
            } else {
                throw item.error("envFrom entry needs configMapRef or secretRef")
            }
        }
        if let resources = node["resources"] {
            container.limits = try parseResourceList(resources["limits"])
            container.requests = try parseResourceList(resources["requests"])
            // API defaulting (SetDefaults_Pod): a request left out defaults to the limit.
            for (resource, limit) in container.limits where container.requests[resource] == nil {
                container.requests[resource] = limit
            }
        }
        for item in try node["volumeMounts"]?.sequence() ?? [] {
            guard let name = try item["name"]?.string(), !name.isEmpty else { throw item.error("volumeMount needs a name") }
            guard let mountPath = try item["mountPath"]?.string(), mountPath.hasPrefix("/") else {
                throw item.error("volumeMount needs an absolute mountPath")
            }
            let subPath = try item["subPath"]?.string() ?? ""
            if subPath.hasPrefix("/") || subPath.split(separator: "/").contains("..") {
                throw item.error("subPath must be a relative path without '..'")
            }
            container.volumeMounts.append(VolumeMount(name: name, mountPath: mountPath, subPath: subPath,
                                                      readOnly: try item["readOnly"]?.bool() ?? false))
        }
        return container
    }

    static func requiredName(_ node: ManifestNode) throws(ManifestError) -> String {
        guard let name = try node["name"]?.string(), !name.isEmpty else { throw node.error("needs a name") }
        return name
    }

    static func parseResourceList(_ node: ManifestNode?) throws(ManifestError) -> [String: Quantity] {
        guard let node else { return [:] }
        var result: [String: Quantity] = [:]
        for (resource, value) in try node.mapping() {
            do {
                result[resource] = try Quantity(parsing: try value.quantityText())
            } catch {
                throw value.error("\(error)")
            }
        }
        return result
    }

    static func parseEnvVar(_ node: ManifestNode) throws(ManifestError) -> EnvVar {
        guard let name = try node["name"]?.string(), !name.isEmpty else { throw node.error("env var needs a name") }
        let value = try node["value"]?.string() ?? ""
        var result = EnvVar(name: name, value: value, valueFrom: nil, fieldPath: node.path)
        guard let from = node["valueFrom"] else { return result }
        if !value.isEmpty { throw from.error("may not be specified when `value` is not empty") }
        var sources: [EnvVarSource] = []
        if let ref = from["fieldRef"] { sources.append(.fieldRef(try parseFieldRef(ref, forVolume: false))) }
        if let ref = from["resourceFieldRef"] { sources.append(.resourceFieldRef(try parseResourceFieldRef(ref, requireContainer: false))) }
        if let ref = from["configMapKeyRef"] { sources.append(.configMapKeyRef(try parseKeySelector(ref))) }
        if let ref = from["secretKeyRef"] { sources.append(.secretKeyRef(try parseKeySelector(ref))) }
        guard sources.count == 1 else {
            throw from.error(sources.isEmpty ? "must specify one of: fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef"
                                             : "may not have more than one field specified at a time")
        }
        result.valueFrom = sources[0]
        return result
    }

    static func parseKeySelector(_ node: ManifestNode) throws(ManifestError) -> KeySelector {
        guard let key = try node["key"]?.string(), !key.isEmpty else { throw node.error("needs a key") }
        return KeySelector(name: try requiredName(node), key: key, optional: try node["optional"]?.bool() ?? false)
    }

    /// Field paths the API server accepts (validation.go: validEnvDownwardAPIFieldPathExpressions and
    /// validVolumeDownwardAPIFieldPathExpressions), plus subscripted labels and annotations for both.
    static let envFieldPaths: Set<String> = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                                             "spec.serviceAccountName", "status.hostIP", "status.hostIPs",
                                             "status.podIP", "status.podIPs"]
    static let volumeFieldPaths: Set<String> = ["metadata.name", "metadata.namespace", "metadata.labels",
                                                "metadata.annotations", "metadata.uid"]

    static func parseFieldRef(_ node: ManifestNode, forVolume: Bool) throws(ManifestError) -> ObjectFieldSelector {
        let apiVersion = try node["apiVersion"]?.string() ?? "v1"
        guard apiVersion == "v1" else { throw node.error("unsupported apiVersion \(apiVersion) (only v1)") }
        guard let fieldPath = try node["fieldPath"]?.string(), !fieldPath.isEmpty else { throw node.error("needs a fieldPath") }
        if let (path, key) = FieldPath.splitSubscript(fieldPath) {
            guard path == "metadata.labels" || path == "metadata.annotations" else {
                throw node.error("fieldPath \"\(fieldPath)\" does not support subscript")
            }
            guard !key.isEmpty else { throw node.error("fieldPath \"\(fieldPath)\": empty key") }
        } else {
            let allowed = forVolume ? volumeFieldPaths : envFieldPaths
            guard allowed.contains(fieldPath) else {
                throw node.error("unsupported fieldPath \"\(fieldPath)\"; supported values: \(allowed.sorted().joined(separator: ", ")), metadata.labels['KEY'], metadata.annotations['KEY']")
            }
        }
        return ObjectFieldSelector(apiVersion: apiVersion, fieldPath: fieldPath)
    }

    static func parseResourceFieldRef(_ node: ManifestNode, requireContainer: Bool) throws(ManifestError) -> ResourceFieldRefSpec {
        guard let resource = try node["resource"]?.string(), !resource.isEmpty else { throw node.error("needs a resource") }
        let containerName = try node["containerName"]?.string() ?? ""
        if requireContainer && containerName.isEmpty {
            throw node.error("containerName is required in a downwardAPI volume's resourceFieldRef")
        }
        var divisor: Quantity?
        if let d = node["divisor"] {
            do { divisor = try Quantity(parsing: try d.quantityText()) } catch { throw d.error("\(error)") }
        }
        let spec = ResourceFieldRefSpec(containerName: containerName, resource: resource, divisor: divisor, fieldPath: node.path)
        do {
            let selector = try ResourceFieldSelector(parsing: resource)
            _ = try Divisor(divisor, for: selector)
        } catch {
            throw node.error("\(error)")
        }
        return spec
    }

    static func parseMode(_ node: ManifestNode?) throws(ManifestError) -> UInt32? {
        guard let node else { return nil }
        let mode = try node.int()
        guard (0...0o777).contains(mode) else {
            throw node.error("must be a number between 0 and 0777 (octal), both inclusive; found \(mode)")
        }
        return UInt32(mode)
    }

    static func parseKeyToPaths(_ node: ManifestNode?) throws(ManifestError) -> [KeyToPath] {
        try (node?.sequence() ?? []).map { item throws(ManifestError) in
            guard let key = try item["key"]?.string(), !key.isEmpty else { throw item.error("needs a key") }
            guard let path = try item["path"]?.string(), !path.isEmpty else { throw item.error("needs a path") }
            try checkLocalDescendingPath(path, item)
            return KeyToPath(key: key, path: path, mode: try parseMode(item["mode"]))
        }
    }

    /// validation.go validateLocalDescendingPath: relative, no `..` element.
    static func checkLocalDescendingPath(_ path: String, _ node: ManifestNode) throws(ManifestError) {
        if path.hasPrefix("/") { throw node.error("path \"\(path)\" must be a relative path") }
        if path.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw node.error("path \"\(path)\" must not contain '..'")
        }
    }

    static func parseObjectSource(_ node: ManifestNode, nameKey: String, defaultMode: UInt32?) throws(ManifestError) -> ObjectVolumeSource {
        guard let name = try node[nameKey]?.string(), !name.isEmpty else { throw node.error("needs \(nameKey)") }
        let ownMode = try parseMode(node["defaultMode"])
        return ObjectVolumeSource(
            name: name, items: try parseKeyToPaths(node["items"]),
            defaultMode: defaultMode ?? ownMode ?? defaultVolumeMode,
            optional: try node["optional"]?.bool() ?? false)
    }

    static func parseDownwardItems(_ node: ManifestNode?) throws(ManifestError) -> [DownwardAPIItem] {
        try (node?.sequence() ?? []).map { item throws(ManifestError) in
            guard let path = try item["path"]?.string(), !path.isEmpty else { throw item.error("needs a path") }
            try checkLocalDescendingPath(path, item)
            let fieldRef = try item["fieldRef"].map { n throws(ManifestError) in try parseFieldRef(n, forVolume: true) }
            let resourceRef = try item["resourceFieldRef"].map { n throws(ManifestError) in try parseResourceFieldRef(n, requireContainer: true) }
            if (fieldRef == nil) == (resourceRef == nil) {
                throw item.error("must specify exactly one of fieldRef and resourceFieldRef")
            }
            return DownwardAPIItem(path: path, fieldRef: fieldRef, resourceFieldRef: resourceRef,
                                   mode: try parseMode(item["mode"]), fieldPath: item.path)
        }
    }

    static let otherVolumeKinds = ["emptyDir", "hostPath", "persistentVolumeClaim", "ephemeral", "csi", "image", "nfs",
                                   "iscsi", "gitRepo", "local"]

    static func parseVolume(_ node: ManifestNode) throws(ManifestError) -> Volume {
        guard let name = try node["name"]?.string(), !name.isEmpty else { throw node.error("volume needs a name") }
        if let cm = node["configMap"] {
            return Volume(name: name, source: .configMap(try parseObjectSource(cm, nameKey: "name", defaultMode: nil)), fieldPath: node.path)
        }
        if let secret = node["secret"] {
            return Volume(name: name, source: .secret(try parseObjectSource(secret, nameKey: "secretName", defaultMode: nil)), fieldPath: node.path)
        }
        if let downward = node["downwardAPI"] {
            let items = try parseDownwardItems(downward["items"])
            return Volume(name: name, source: .downwardAPI(items: items, defaultMode: try parseMode(downward["defaultMode"]) ?? defaultVolumeMode),
                          fieldPath: node.path)
        }
        if let projected = node["projected"] {
            let mode = try parseMode(projected["defaultMode"]) ?? defaultVolumeMode
            var sources: [ProjectionSource] = []
            for source in try projected["sources"]?.sequence() ?? [] {
                if let cm = source["configMap"] {
                    sources.append(.configMap(try parseObjectSource(cm, nameKey: "name", defaultMode: mode)))
                } else if let secret = source["secret"] {
                    sources.append(.secret(try parseObjectSource(secret, nameKey: "name", defaultMode: mode)))
                } else if let downward = source["downwardAPI"] {
                    sources.append(.downwardAPI(items: try parseDownwardItems(downward["items"])))
                } else if let token = source["serviceAccountToken"] {
                    guard let path = try token["path"]?.string(), !path.isEmpty else { throw token.error("needs a path") }
                    try checkLocalDescendingPath(path, token)
                    let expiration = try token["expirationSeconds"]?.int() ?? 3600
                    guard expiration >= 600 else { throw token.error("expirationSeconds may not be less than 10 minutes") }
                    guard expiration <= 1 << 32 else { throw token.error("expirationSeconds may not exceed 2^32 seconds") }
                    sources.append(.serviceAccountToken(audience: try token["audience"]?.string() ?? "",
                                                        expirationSeconds: expiration, path: path))
                } else if source["clusterTrustBundle"] != nil || source["podCertificate"] != nil {
                    throw source.error("clusterTrustBundle and podCertificate projections are not simulated")
                } else {
                    throw source.error("must specify one of configMap, secret, downwardAPI or serviceAccountToken")
                }
            }
            return Volume(name: name, source: .projected(sources: sources, defaultMode: mode), fieldPath: node.path)
        }
        for kind in otherVolumeKinds where node[kind] != nil {
            return Volume(name: name, source: .other(kind: kind), fieldPath: node.path)
        }
        let kinds = (try? node.mapping().map(\.key).filter { $0 != "name" }) ?? []
        return Volume(name: name, source: .other(kind: kinds.first ?? "unknown"), fieldPath: node.path)
    }
}

/// Field path helpers shared by env and downwardAPI volumes (kubernetes `pkg/fieldpath/fieldpath.go`).
enum FieldPath {
    /// SplitMaybeSubscriptedPath: `metadata.labels['app']` → (`metadata.labels`, `app`).
    static func splitSubscript(_ fieldPath: String) -> (String, String)? {
        guard fieldPath.hasSuffix("']") else { return nil }
        let trimmed = fieldPath.dropLast(2)
        guard let open = trimmed.range(of: "['") else { return nil }
        let path = String(trimmed[..<open.lowerBound])
        guard !path.isEmpty else { return nil }
        return (path, String(trimmed[open.upperBound...]))
    }
}

extension Substring {
    fileprivate func range(of needle: String) -> Range<Index>? {
        let n = Array(needle.utf8)
        var i = startIndex
        while i < endIndex {
            if self[i...].utf8.starts(with: n) { return i..<self.utf8.index(i, offsetBy: n.count) }
            i = index(after: i)
        }
        return nil
    }
}
