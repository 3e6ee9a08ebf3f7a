/// Turns a workload manifest into the Pod a controller would create from it, with the names and labels the
/// controllers add (pod-template-hash, controller-revision-hash, job-name, …). Hashes and random suffixes
/// are deterministic functions of the manifest — stable across reruns, but not the values a real
/// controller would pick.
enum PodTemplateResolution {
    static func pod(from node: ManifestNode, kind: String) throws(ManifestError) -> PodSpec {
        let metadata = node["metadata"]
        let ownerName = try metadata?["name"]?.string() ?? ""
        let namespace = try metadata?["namespace"]?.string() ?? "default"
        let template: ManifestNode
        var extraLabels: [String: String] = [:]
        var extraAnnotations: [String: String] = [:]
        var name: String
        let templateHash = DeterministicName.hash(node.node)

        func requireOwnerName() throws(ManifestError) {
            if ownerName.isEmpty { throw node.error("\(kind) needs metadata.name") }
        }
        func podTemplate(_ spec: ManifestNode?) throws(ManifestError) -> ManifestNode {
            guard let spec, let template = spec["template"] else { throw node.error("\(kind) needs spec.template") }
            return template
        }

        switch kind {
        case "Pod":
            template = node
            if ownerName.isEmpty {
                guard let generate = try metadata?["generateName"]?.string(), !generate.isEmpty else {
                    throw node.error("Pod needs metadata.name (or metadata.generateName)")
                }
                name = generate + DeterministicName.suffix(templateHash)
            } else {
                name = ownerName
            }
        case "Deployment", "ReplicaSet":
            try requireOwnerName()
            template = try podTemplate(node["spec"])
            if kind == "Deployment" {
                let hash = DeterministicName.safeEncode(String(templateHash % 4_294_967_296))
                extraLabels["pod-template-hash"] = hash
                name = "\(ownerName)-\(hash)-\(DeterministicName.suffix(templateHash &+ 1))"
            } else {
                name = "\(ownerName)-\(DeterministicName.suffix(templateHash))"
            }
        case "StatefulSet":
            try requireOwnerName()
            template = try podTemplate(node["spec"])
            name = "\(ownerName)-0"
            extraLabels["controller-revision-hash"] = "\(ownerName)-\(DeterministicName.safeEncode(String(templateHash % 4_294_967_296)))"
            extraLabels["statefulset.kubernetes.io/pod-name"] = name
            extraLabels["apps.kubernetes.io/pod-index"] = "0"
        case "DaemonSet":
            try requireOwnerName()
            template = try podTemplate(node["spec"])
            name = "\(ownerName)-\(DeterministicName.suffix(templateHash))"
            extraLabels["controller-revision-hash"] = DeterministicName.safeEncode(String(templateHash % 4_294_967_296))
            extraLabels["pod-template-generation"] = "1"
        case "Job", "CronJob":
            try requireOwnerName()
            var jobName = ownerName
            var jobSpec = node["spec"]
            if kind == "CronJob" {
                // The CronJob controller names a Job after its scheduled time in minutes since the epoch.
                jobName = "\(ownerName)-\(29_000_000 + Int(templateHash % 1_000_000))"
                jobSpec = node["spec"]?["jobTemplate"]?["spec"]
            }
            template = try podTemplate(jobSpec)
            let controllerUID = DeterministicName.uid("job/\(namespace)/\(jobName)")
            extraLabels["batch.kubernetes.io/controller-uid"] = controllerUID
            extraLabels["batch.kubernetes.io/job-name"] = jobName
            extraLabels["controller-uid"] = controllerUID
            extraLabels["job-name"] = jobName
            if try jobSpec?["completionMode"]?.string() == "Indexed" {
                extraLabels["batch.kubernetes.io/job-completion-index"] = "0"
                extraAnnotations["batch.kubernetes.io/job-completion-index"] = "0"
            }
            name = "\(jobName)-\(DeterministicName.suffix(templateHash))"
        default:
            throw node.error("unsupported kind \(kind)")
        }

        let templateMetadata = template["metadata"]
        var labels = try templateMetadata?["labels"]?.stringMap() ?? [:]
        var annotations = try templateMetadata?["annotations"]?.stringMap() ?? [:]
        labels.merge(extraLabels) { _, new in new }
        annotations.merge(extraAnnotations) { _, new in new }
        let podNamespace = kind == "Pod" ? namespace : (try templateMetadata?["namespace"]?.string() ?? namespace)
        guard let spec = template["spec"] else { throw template.error("missing spec") }
        return try PodSpecParser.parse(spec: spec, name: name, namespace: podNamespace,
                                       uid: try templateMetadata?["uid"]?.string(),
                                       labels: labels, annotations: annotations, file: node.file)
    }
}

/// Deterministic stand-ins for the random names and UIDs the API server and controllers generate.
enum DeterministicName {
    /// `k8s.io/apimachinery/pkg/util/rand` alphabet: no vowels, no easily confused characters.
    static let alphanums = Array("bcdfghjklmnpqrstvwxz2456789")

    static func fnv1a64(_ bytes: some Sequence<UInt8>, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in bytes { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        return h
    }

    /// A hash of the node's content only (`String(describing:)` of a YAML node is not stable from one
    /// run to the next, which gave a Deployment's pod a new name, and a new generation, on every rerun).
    static func hash(_ node: YAMLNode) -> UInt64 {
        var text = ""
        canonical(node, into: &text)
        return fnv1a64(text.utf8)
    }

    private static func canonical(_ node: YAMLNode, into text: inout String) {
        switch node {
        case .scalar(let scalar):
            text += "s\(scalar.string.utf8.count):\(scalar.string)"
        case .mapping(let mapping):
            text += "{"
            for (key, value) in mapping {
                canonical(key, into: &text)
                canonical(value, into: &text)
            }
            text += "}"
        case .sequence(let sequence):
            text += "["
            for item in sequence { canonical(item, into: &text) }
            text += "]"
        }
    }

    /// `rand.SafeEncodeString`: each byte mapped onto the alphabet.
    static func safeEncode(_ s: String) -> String {
        String(s.utf8.map { alphanums[Int($0) % alphanums.count] })
    }

    static func suffix(_ seed: UInt64, length: Int = 5) -> String {
        var x = seed
        var out: [Character] = []
        for _ in 0..<length {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            out.append(alphanums[Int((x >> 33) % UInt64(alphanums.count))])
        }
        return String(out)
    }

    /// A UUID-formatted identifier derived from `key`.
    static func uid(_ key: String) -> String {
        let a = fnv1a64(key.utf8), b = fnv1a64(key.utf8, seed: 0x8422_2325_cbf2_9ce4 ^ a)
        func hex(_ v: UInt64, _ digits: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, digits - s.count)) + s.suffix(digits)
        }
        // Version 4 / RFC 4122 variant bits, like the API server's uuid.NewUUID().
        let timeMid = (a >> 16) & 0xffff
        let version = 0x4000 | (a & 0x0fff)
        let variant = 0x8000 | ((b >> 48) & 0x3fff)
        return "\(hex(a >> 32, 8))-\(hex(timeMid, 4))-\(hex(version, 4))-\(hex(variant, 4))-\(hex(b & 0xffff_ffff_ffff, 12))"
    }
}
