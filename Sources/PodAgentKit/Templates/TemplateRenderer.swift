#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Renders `podagent render`'s templates (and `watch --render`'s) with the pod's data and writes the
/// outputs.
///
/// ```swift
/// let renderer = TemplateRenderer(jobs: [.init(template: "/templates/nginx.conf.mustache",
///                                              output: "/etc/nginx/nginx.conf")])
/// let outputs = try renderer.render(podView.value)
/// if outputs.contains(where: \.changed) { /* reload */ }
/// ```
///
/// All or nothing, as far as a file system allows: every template is read, checked and rendered in
/// memory, and every output directory checked, before the first output is written; so a syntax error
/// or a missing name in one template leaves every output as it was. Each output is then written
/// atomically (a temporary file in the same directory, fsync, rename), so a reader never sees a torn
/// file. Only a write failure part-way (disk full) can leave earlier outputs new and later ones old.
///
/// An output whose content and mode are already what the render gives is not touched at all — no
/// inotify event, no new inode — and is reported as unchanged, so a watcher skips the reload.
public struct TemplateRenderer: Sendable {
    /// One `--template T --output O` pair.
    public struct Job: Sendable, Equatable {
        public var template: String
        public var output: String

        public init(template: String, output: String) {
            self.template = template
            self.output = output
        }
    }

    /// What one job did.
    public struct Output: Sendable, Equatable {
        public var job: Job
        /// Whether the output's content differs from what was there before (also true for a new file).
        public var changed: Bool
    }

    /// The templates to render, in order.
    public var jobs: [Job]
    /// Render names that resolve to nothing as empty text instead of failing.
    public var allowMissing: Bool

    public init(jobs: [Job], allowMissing: Bool = false) {
        self.jobs = jobs
        self.allowMissing = allowMissing
    }

    /// Renders every job with `data` (normally `PodView.value`), then writes the outputs that changed.
    public func render(_ data: PodValue) throws(TemplateError) -> [Output] {
        var rendered: [(job: Job, bytes: [UInt8], mode: mode_t)] = []
        for job in jobs {
            let template = try PodTemplate.load(job.template)
            rendered.append((job, try template.render(data, allowMissing: allowMissing), template.mode))
        }
        for job in jobs where !FileSystem.isDirectory(parentDirectory(job.output)) {
            throw .missingOutputDirectory(output: job.output)
        }
        var results: [Output] = []
        for (job, bytes, mode) in rendered {
            results.append(Output(job: job, changed: try Self.write(bytes, mode: mode, to: job.output)))
        }
        return results
    }

    /// Writes `bytes` to `path` with `mode` unless both are already so; returns whether the content changed.
    static func write(_ bytes: [UInt8], mode: mode_t, to path: String) throws(TemplateError) -> Bool {
        let previous = try? FileSystem.readFile(path)
        var info = stat()
        let sameMode = stat(path, &info) == 0 && info.st_mode & 0o777 == mode
        if previous == bytes && sameMode { return false }
        do {
            try FileSystem.writeFileAtomically(path, bytes, mode: mode)
        } catch {
            throw .unwritableOutput(path: path, error)
        }
        return previous != bytes
    }
}
