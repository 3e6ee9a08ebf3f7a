import ArgumentParser
import PodAgentKit

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write a pod's volumes and env into a directory exactly as the kubelet would.",
        discussion: """
            Reads a Pod (or Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob) manifest and the \
            ConfigMaps and Secrets it references, and materialises one container's view under --root: every \
            configMap, secret, downwardAPI and projected volume at ROOT/<mountPath> (with the kubelet's \
            atomic ..data layout), the automatic service-account volume (an unsigned, clearly marked token), \
            and the resolved env in an env file (POSIX shell quoting; mode 0600 since it may hold secret \
            values).

            Run it again with edited manifests and it performs the kubelet's atomic update of each volume \
            whose content changed; with unchanged inputs it changes nothing on disk. Bad input (invalid YAML, a \
            missing ConfigMap/Secret or key, an invalid quantity or divisor, a path escaping its volume) is \
            reported with file and field path, and nothing is written.

            Example:
              podagent simulate --pod pod.yaml --object config.yaml --root /tmp/pod
              # edit config.yaml, then the same command again: a new ..data generation appears
            """
    )

    @Option(name: .customLong("pod"), help: ArgumentHelp("The workload manifest (multi-document YAML allowed; ConfigMaps and Secrets in it are used too).", valueName: "file"))
    var podFile: String

    @Option(name: .customLong("object"), help: ArgumentHelp("A ConfigMap or Secret manifest (repeatable; multi-document YAML and Lists allowed).", valueName: "file"))
    var objectFiles: [String] = []

    @Option(help: ArgumentHelp("The directory standing for the container's filesystem root.", valueName: "dir"))
    var root: String

    @Option(help: ArgumentHelp("The container (or init container) to simulate; default: the first container.", valueName: "name"))
    var container: String?

    @Option(name: .customLong("node-allocatable"), help: ArgumentHelp("Node allocatable, reported as the limit of containers without one.", valueName: "cpu=4,memory=16Gi,ephemeral-storage=100Gi"))
    var nodeAllocatable: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Set a pod field: status.podIP, status.podIPs, status.hostIP, status.hostIPs, spec.nodeName, spec.serviceAccountName, metadata.name, metadata.namespace, metadata.uid, metadata.labels['K'], metadata.annotations['K'] (repeatable).", valueName: "field=value"))
    var set: [String] = []

    @Option(name: .customLong("env-file"), help: ArgumentHelp("Where to write the container's env (default: ROOT/.podagent/env).", valueName: "path"))
    var envFile: String?

    func validate() throws {
        for item in set where !item.contains("=") {
            throw ValidationError("--set takes FIELD=VALUE, got \"\(item)\"")
        }
        if let nodeAllocatable { _ = try parseAllocatable(nodeAllocatable) }
    }

    func parseAllocatable(_ text: String) throws -> [String: Quantity] {
        var result = PodSimulator.defaultNodeAllocatable
        for part in text.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, ["cpu", "memory", "ephemeral-storage"].contains(String(kv[0])) else {
                throw ValidationError("--node-allocatable takes cpu=Q,memory=Q,ephemeral-storage=Q; got \"\(part)\"")
            }
            do {
                result[String(kv[0])] = try Quantity(parsing: String(kv[1]))
            } catch {
                throw ValidationError("--node-allocatable \(kv[0]): \(error)")
            }
        }
        return result
    }

    func run() throws {
        var options = SimulationOptions(podFile: podFile, root: root)
        options.objectFiles = objectFiles
        options.containerName = container
        options.envFile = envFile
        if let nodeAllocatable { options.nodeAllocatable = try parseAllocatable(nodeAllocatable) }
        options.overrides = set.map { item in
            let eq = item.firstIndex(of: "=")!
            return (String(item[..<eq]), String(item[item.index(after: eq)...]))
        }
        let report: SimulationReport
        do {
            report = try PodSimulator.run(options)
        } catch {
            throw CommandFailure("\(error)")
        }
        print("pod \(report.podNamespace)/\(report.podName), container \"\(report.container)\" → \(root)")
        print("  env: \(report.envNames.count) variables → \(report.envFile)\(report.envChanged ? "" : " (unchanged)")")
        for volume in report.volumes {
            let what: String
            switch volume.outcome {
            case .committed(let generation): what = "new generation \(generation), \(volume.fileCount) file(s)"
            case .unchanged: what = "unchanged, \(volume.fileCount) file(s)"
            case .subPathWritten: what = "subPath file written (never updated afterwards, as in Kubernetes)"
            case .subPathKept: what = "subPath file kept (Kubernetes never updates subPath mounts)"
            case .skipped(let reason): what = "skipped: \(reason)"
            }
            print("  volume \(volume.volume) (\(volume.kind)) at \(volume.mountPath): \(what)")
        }
    }
}

/// A runtime failure: printed as `error: …` on stderr, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
