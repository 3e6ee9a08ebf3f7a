import Glibc
import Testing
@testable import PodAgentKit

/// The podagent binary under test: `PODAGENT_BIN`, else the debug build next to the tests.
let podagentBinary: String = {
    if let env = getenv("PODAGENT_BIN") { return String(cString: env) }
    return repositoryRoot + "/.build/debug/podagent"
}()

/// A real `podagent` process with its output in a log file.
final class E2EAgent: Sendable {
    let process: ChildProcess
    let logPath: String

    /// `prefix`: a command that execs the rest, such as `setpriv --reuid=…` to run podagent as another user.
    init(_ arguments: [String], log: String, prefix: [String] = []) throws {
        logPath = log
        // exec: the child's pid is podagent's, so signals reach it directly.
        let script = "exec \"$0\" \"$@\" >'\(log)' 2>&1"
        process = try ProcessSpawner.spawn(ProcessLaunch(["/bin/sh", "-c", script] + prefix + [podagentBinary] + arguments))
    }

    var log: String { readText(logPath) ?? "" }

    func stop(_ signal: Int32 = SIGTERM) async -> ProcessExitStatus {
        _ = process.send(signal)
        return await process.wait().status
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Lines of a file, empty when it does not exist.
func lines(_ path: String) -> [String] {
    (readText(path) ?? "").split(separator: "\n").map(String.init)
}

/// The port an agent started with `--listen 127.0.0.1:0` bound, from its "status endpoint listening"
/// line (JSON or text); nil if the line does not come within `timeout`. Asking the kernel for the port
/// leaves no gap in which another test's server could take it, as a port found free beforehand could.
func listeningPort(_ agent: E2EAgent, timeout: Duration = .seconds(10)) async -> Int? {
    var port: Int?
    _ = await eventually(timeout: timeout) {
        guard let line = agent.log.split(separator: "\n").first(where: { $0.contains("status endpoint listening") }),
              let match = line.firstMatch(of: /127\.0\.0\.1:([0-9]+)/), let found = Int(match.1), found > 0
        else { return false }
        port = found
        return true
    }
    return port
}

/// A TCP port that was free a moment ago. Only for servers that cannot report the port they bound
/// (nginx): another test may take it in the meantime.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `curl` a URL asking for gzip; returns (status, content-encoding header or nil), or nil when the
/// connection fails.
func fetchEncoding(_ url: String) async -> (status: Int, encoding: String?)? {
    guard let result = try? await CommandRunner.run(
        ["curl", "-s", "-o", "/dev/null", "-D", "-", "-H", "Accept-Encoding: gzip", "--max-time", "2", url],
        timeout: .seconds(5)), result.status.isSuccess else { return nil }
    let headerLines = result.stdoutText.split(separator: "\r\n")
    guard let statusLine = headerLines.first, let code = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else { return nil }
    let encoding = headerLines.first { $0.lowercased().hasPrefix("content-encoding:") }
        .map { $0.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: " ") }
    return (code, encoding)
}

/// The value of a metric line (`name{labels} value`) in a Prometheus exposition, if present.
func metricValue(_ exposition: String, _ series: String) -> Double? {
    for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

func scrape(_ port: Int) async -> String {
    (try? await CommandRunner.run(["curl", "-s", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"], timeout: .seconds(5)))?.stdoutText ?? ""
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
