import Glibc
import Testing

@testable import PodAgentKit

/// examples/render/nginx.conf.mustache rendered with pod data, then checked by the real nginx.
@Suite("Templates: the nginx example, checked by nginx -t")
struct TemplateNginxExampleTests {
    private let nginx = "/usr/sbin/nginx"
    private let example = repositoryRoot + "/examples/render/nginx.conf.mustache"

    private func pod(cpus: Int64, logLevel: String?) -> PodValue {
        var annotations: [PodValue.Member] = [.init("kubernetes.io/config.seen", .text("2026-11-23T07:45:27Z"))]
        if let logLevel { annotations.append(.init("example.com/log-level", .text(logLevel))) }
        return .object([
            .init("pod", .object([.init("name", .text("web-0")), .init("namespace", .text("shop"))])),
            .init("labels", .object([])),
            .init("annotations", .object(annotations)),
            .init("cpus", .integer(cpus)),
        ])
    }

    /// Renders the example into `dir` and runs `nginx -t` on it with `dir` as prefix; returns the
    /// config and nginx's exit status and output. Waited for off the cooperative pool (`runProcess`).
    private func renderAndTest(_ data: PodValue, in dir: TemporaryDirectory) async throws -> (config: String, status: Int32, output: String) {
        let config = dir.file("nginx.conf")
        _ = try TemplateRenderer(jobs: [.init(template: example, output: config)]).render(data)
        let result = await runProcess([nginx, "-t", "-q", "-e", "stderr", "-p", dir.path + "/", "-c", config], directory: dir)
        return (readText(config) ?? "", result.status, String(decoding: result.stdout, as: UTF8.self) + result.stderr)
    }

    @Test("worker_processes is the pod's CPU count and error_log takes the annotation's level; nginx accepts it",
          .enabled(if: FileSystem.exists("/usr/sbin/nginx"), "Debian's nginx is not installed"))
    func annotationPresent() async throws {
        let dir = TemporaryDirectory("render-nginx")
        defer { dir.remove() }
        let result = try await renderAndTest(pod(cpus: 2, logLevel: "debug"), in: dir)
        #expect(result.config.contains("\nworker_processes 2;\n"))
        #expect(result.config.contains("\nerror_log stderr debug;\n"))
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("without the annotation the level defaults to warn; nginx accepts it",
          .enabled(if: FileSystem.exists("/usr/sbin/nginx"), "Debian's nginx is not installed"))
    func annotationAbsent() async throws {
        let dir = TemporaryDirectory("render-nginx")
        defer { dir.remove() }
        let result = try await renderAndTest(pod(cpus: 3, logLevel: nil), in: dir)
        #expect(result.config.contains("\nworker_processes 3;\n"))
        #expect(result.config.contains("\nerror_log stderr warn;\n"))
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("nginx -t really checks the rendered config: a bad level from the annotation is rejected",
          .enabled(if: FileSystem.exists("/usr/sbin/nginx"), "Debian's nginx is not installed"))
    func nginxRejectsBadLevel() async throws {
        let dir = TemporaryDirectory("render-nginx")
        defer { dir.remove() }
        let result = try await renderAndTest(pod(cpus: 2, logLevel: "loud"), in: dir)
        #expect(result.status != 0)
        #expect(result.output.contains("loud"))
    }

    @Test("an unknown CPU count (null) is an error naming the template line, not `worker_processes ;`")
    func unknownCPUCount() throws {
        let data = PodValue.object([.init("annotations", .object([])), .init("cpus", .null)])
        do {
            _ = try PodTemplate.load(example).render(data)
            Issue.record("rendered")
        } catch {
            guard case .unresolvedNames(let path, let problems) = error else { Issue.record("\(error)"); return }
            #expect(path == example)
            #expect(problems.count == 1 && problems[0].message.hasPrefix("`cpus` is null"))
            #expect(problems[0].line == 9)
        }
    }
}
