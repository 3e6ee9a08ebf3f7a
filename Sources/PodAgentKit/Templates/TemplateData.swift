#if canImport(Glibc)
import Glibc
#endif

/// What a template sees: the pod's data tree (``PodView/value``: `pod`, `labels`, `annotations`,
/// `resources`, `cgroup`, `cpus`), plus `env` (this process's environment) and `files` (the files of
/// the volume directories given, by name).
///
/// ```mustache
/// worker_processes {{cpus}};
/// # from a ConfigMap volume mounted at /etc/app: {{files.greeting}}
/// # from the container's env: {{env.HOME}}
/// ```
///
/// `env` and `files` exist only here, never in `podagent env --format json`: a template is where a
/// user deliberately puts a value into a file, while the JSON is printed and must not carry secret
/// values. File names with `.` or `/` are reachable through their alias (`app.conf` → `app_conf`, see
/// ``TemplateContext``).
public enum TemplateData {
    /// The largest file offered to templates; bigger ones are left out with a warning (a template
    /// embeds configuration, not data).
    public static let maxFileSize = 1 << 20

    /// Builds the context. Volume directories are read like the watcher reads them: through `..data`
    /// for a kubelet volume (one complete generation), else the directory's regular files (symlinks
    /// followed, hidden names skipped, not recursive). A name in several directories: the first wins,
    /// with a warning.
    public static func make(
        view: PodView, environment: [String: [UInt8]], volumeDirectories: [String], warnings: inout [String]
    ) throws(TemplateDataError) -> PodValue {
        guard case .object(var members) = view.value else { return view.value }
        let env = environment.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map {
            PodValue.Member($0, .string(environment[$0]!))
        }
        members.append(.init("env", .object(env)))

        var files: [PodValue.Member] = []
        var seen: [String: String] = [:]
        for directory in volumeDirectories {
            for (name, bytes) in try readFiles(directory, warnings: &warnings) {
                if let first = seen[name] {
                    warnings.append("files.\(name): \(directory) has it too; the one in \(first) is used")
                    continue
                }
                seen[name] = directory
                files.append(.init(name, .string(bytes)))
            }
        }
        members.append(.init("files", .object(files)))
        return .object(members)
    }

    static func readFiles(_ directory: String, warnings: inout [String]) throws(TemplateDataError) -> [(String, [UInt8])] {
        let snapshot: VolumeSnapshot?
        do {
            snapshot = try AtomicVolume.read(directory)
        } catch {
            throw TemplateDataError(directory: directory, reason: "\(error)")
        }
        if let snapshot {
            return snapshot.files.compactMap { file in
                guard file.data.count <= maxFileSize else {
                    warnings.append("files.\(file.path) in \(directory) is \(file.size) bytes, over \(maxFileSize); left out")
                    return nil
                }
                return (file.path, file.data)
            }
        }
        guard FileSystem.isDirectory(directory) else {
            throw TemplateDataError(directory: directory, reason: "not a directory — is the volume mounted at this path?")
        }
        var result: [(String, [UInt8])] = []
        for name in regularFileNames(in: directory) {
            let path = FileSystem.join(directory, name)
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            guard Int(info.st_size) <= maxFileSize else {
                warnings.append("files.\(name) in \(directory) is \(info.st_size) bytes, over \(maxFileSize); left out")
                continue
            }
            do {
                result.append((name, try FileSystem.readFile(path)))
            } catch {
                throw TemplateDataError(directory: directory, reason: error.description)
            }
        }
        return result
    }
}

/// A volume directory given for templates could not be read.
public struct TemplateDataError: Error, Sendable, CustomStringConvertible {
    public var directory: String
    public var reason: String

    public var description: String {
        "cannot read \(directory) for templates' files: \(reason)"
    }
}
