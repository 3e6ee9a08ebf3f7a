import ArgumentParser
import PodAgentKit
#if canImport(Glibc)
import Glibc
#endif

/// Where the pod's data is read from: shared by `env`, `render`, and `watch`/`run --render`.
struct PodDataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Resolve every pod path (/etc/podinfo, /var/run/secrets/…, /sys/fs/cgroup, /proc) inside this directory, e.g. one made by `podagent simulate`.", valueName: "dir"))
    var root: String = "/"

    @Option(name: .customLong("downward-dir"), help: ArgumentHelp("The downwardAPI volume: its `labels` and `annotations` files, and resource files named by convention or --resource.", valueName: "dir"))
    var downwardDir: String = PodPaths.defaultDownwardDirectory

    @Option(name: .customLong("labels-file"), help: ArgumentHelp("The labels file, if not DOWNWARD-DIR/labels.", valueName: "path"))
    var labelsFile: String?

    @Option(name: .customLong("annotations-file"), help: ArgumentHelp("The annotations file, if not DOWNWARD-DIR/annotations.", valueName: "path"))
    var annotationsFile: String?

    @Option(name: .customLong("resource"), help: ArgumentHelp("Declare an env var or downward file holding a resourceFieldRef value, with its divisor (repeatable), e.g. MY_CPU=limits.cpu/1m or mem_limit=limits.memory/1Mi. Names like CONTAINER_CPU_LIMIT_MILLICORES or containerMemoryRequestBytes need no declaration.", valueName: "name=resource[/divisor]"))
    var resources: [String] = []

    func validate() throws {
        guard FileSystem.isDirectory(root) else {
            throw ValidationError("--root \(root) is not a directory (a pod made by `podagent simulate --root DIR`, or / in a pod)")
        }
        _ = try declarations()
    }

    var paths: PodPaths {
        var paths = PodPaths(root: root)
        paths.downwardDirectory = downwardDir
        paths.labelsFile = labelsFile
        paths.annotationsFile = annotationsFile
        return paths
    }

    func declarations() throws -> [ResourceDeclaration] {
        try resources.map { text in
            do {
                return try ResourceDeclaration(parsing: text)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    /// Reads the pod's view from this process's environment and the files under --root; warnings go
    /// to stderr (one line each), errors become a failure with the file and what to check.
    func load(environment: [String: [UInt8]] = PodView.processEnvironment()) throws -> PodView {
        do {
            let view = try PodView.load(environment: environment, paths: paths, declarations: try declarations())
            for warning in view.warnings { printWarning(warning) }
            return view
        } catch let error as PodViewError {
            throw CommandFailure("\(error)")
        }
    }
}

/// One `podagent: warning: …` line on stderr.
func printWarning(_ text: String) {
    writeAll(Array("podagent: warning: \(text)\n".utf8), to: STDERR_FILENO)
}

/// Writes every byte (retrying short writes and EINTR); false when the descriptor is gone.
@discardableResult
func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}
