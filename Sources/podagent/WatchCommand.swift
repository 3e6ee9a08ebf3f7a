import ArgumentParser
import Logging
import PodAgentKit
#if canImport(Glibc)
import Glibc
#endif

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Sidecar: reload another process when a mounted ConfigMap, Secret, label or annotation changes.",
        discussion: """
            Watches each --dir for the kubelet's atomic `..data` swap (the moment new content is visible), \
            waits --debounce for the rest of the kubelet's sync, compares content by SHA-256 (a new \
            generation with the same bytes does nothing), runs --check against the new content, then the \
            actions in the order given: --exec, --signal (to --process NAME or --pid-file), --webhook. A failed \
            action is retried with exponential backoff; a newer change supersedes the retries of an older one, \
            and the last change is always reloaded.

            Example (nginx sidecar; the pod needs `shareProcessNamespace: true`):
              podagent watch --dir /etc/nginx/conf.d \\
                --check 'nginx -t' --signal HUP --process nginx --listen :9090

            Example (Prometheus):
              podagent watch --dir /etc/prometheus --webhook http://127.0.0.1:9090/-/reload

            Exit status: 0 after SIGTERM/SIGINT, 1 when watching cannot start, 64 for bad options.
            """
    )

    @OptionGroup var options: ReloadOptions

    @OptionGroup(title: "Pod data (for --render)") var pod: PodDataOptions

    func validate() throws {
        _ = try options.configuration(allowChildSignal: false, pod: pod)
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "podagent.watch")
        let configuration = try options.configuration(allowChildSignal: false, pod: pod)
        if configuration.actions.isEmpty {
            logger.warning("no action given (--exec, --signal, --webhook): changes are only checked and logged")
        }
        let code: Int32
        do {
            code = try await HotReload.watch(configuration, logger: logger)
        } catch {
            throw CommandFailure("\(error)")
        }
        if code != 0 { throw ExitCode(code) }
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Entrypoint wrapper: run the app as a child and reload it when its config changes.",
        discussion: """
            Starts CMD ARGS… as podagent's child (podagent can be PID 1: it forwards SIGTERM, SIGINT, SIGQUIT, \
            SIGUSR1, SIGUSR2, SIGWINCH and SIGHUP to the app and reaps zombies), watches --dir like \
            `podagent watch`, and on a settled, checked change sends the app --reload-signal (default HUP), \
            or runs the actions given, or restarts it with --restart-on-change. Exits with the app's status \
            (128 + n when a signal killed it).

            Example:
              podagent run --dir /etc/nginx/conf.d --check 'nginx -t' -- nginx -g 'daemon off;'
            """
    )

    @OptionGroup var options: ReloadOptions

    @OptionGroup(title: "Pod data (for --render)") var pod: PodDataOptions

    @Option(name: .customLong("reload-signal"), help: ArgumentHelp("What a reload sends the app.", valueName: "signal"))
    var reloadSignal: String = "HUP"

    @Flag(name: .customLong("restart-on-change"), help: "Restart the app instead of signalling it, for apps that cannot reload.")
    var restartOnChange = false

    @Option(name: .customLong("stop-grace"), help: ArgumentHelp("How long the app may take to exit after SIGTERM before SIGKILL.", valueName: "duration"))
    var stopGrace: String = "10s"

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The app to run, after --.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the app to run after --, e.g. podagent run --dir /etc/app -- myapp --flag") }
        _ = try wrap { () throws(SignalNameError) in try SignalName.parse(reloadSignal) }
        _ = try options.duration(stopGrace, "--stop-grace")
        _ = try options.configuration(allowChildSignal: true, pod: pod)
    }

    func run() async throws {
        let logger = try options.makeLogger(label: "podagent.run")
        var configuration = try options.configuration(allowChildSignal: true, pod: pod)
        if restartOnChange { configuration.actions.append(.restartChild) }
        let app = ChildSupervisor.Configuration(
            argv: command,
            reloadSignal: try wrap { () throws(SignalNameError) in try SignalName.parse(reloadSignal) },
            stopGrace: try options.duration(stopGrace, "--stop-grace"))
        let code: Int32
        do {
            code = try await HotReload.run(configuration, app: app, logger: logger)
        } catch {
            throw CommandFailure("\(error)")
        }
        throw ExitCode(code)
    }
}
