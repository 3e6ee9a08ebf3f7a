import ArgumentParser
import Logging
import PodAgentKit
#if canImport(Glibc)
import Glibc
#endif

/// The options `watch` and `run` share: what to watch, how to settle, check and reload.
struct ReloadOptions: ParsableArguments {
    @Option(name: .customLong("dir"), help: ArgumentHelp("A volume directory to watch (repeatable): a configMap, secret, downwardAPI or projected mount, or any plain directory.", valueName: "dir"))
    var directories: [String] = []

    @Flag(help: "Wait for --dir directories that do not exist yet instead of failing.")
    var wait = false

    @Option(help: ArgumentHelp("Only changes to files matching this glob count (repeatable; fnmatch on the path inside the volume).", valueName: "glob"))
    var include: [String] = []

    @Option(help: ArgumentHelp("Changes to files matching this glob never count (repeatable; wins over --include).", valueName: "glob"))
    var exclude: [String] = []

    @Option(name: .customLong("on-label"), help: ArgumentHelp("Only a change of this label key counts for a downwardAPI `labels` file (or the file --labels-file names) (repeatable).", valueName: "key"))
    var onLabels: [String] = []

    @Option(name: .customLong("on-annotation"), help: ArgumentHelp("Only a change of this annotation key counts for a downwardAPI `annotations` file (or the file --annotations-file names) (repeatable).", valueName: "key"))
    var onAnnotations: [String] = []

    @Option(help: ArgumentHelp("Quiet time after a kubelet commit before reloading, one window across all --dir (0 = at once).", valueName: "duration"))
    var debounce: String = "100ms"

    @Option(name: .customLong("min-interval"), help: ArgumentHelp("At most one reload per interval; changes in between are folded into the next.", valueName: "duration"))
    var minInterval: String = "0"

    @Option(name: .customLong("quiet-period"), help: ArgumentHelp("For directories the kubelet does not manage (no ..data): how long writes must pause before the content is read.", valueName: "duration"))
    var quietPeriod: String = "100ms"

    @Option(help: ArgumentHelp("Command run against the new content before reloading; a non-zero exit blocks the reload (its stderr is logged).", valueName: "command"))
    var check: String?

    @Option(name: .customLong("check-timeout"), help: ArgumentHelp("Timeout of --check.", valueName: "duration"))
    var checkTimeout: String = "30s"

    @Option(help: ArgumentHelp("Reload by running this command (repeatable; split like a shell, run without one).", valueName: "command"))
    var exec: [String] = []

    @Flag(help: "Run --check and --exec through /bin/sh -c (pipes, redirections, variables).")
    var shell = false

    @Option(help: ArgumentHelp("Reload by sending this signal (HUP, SIGUSR1, 10, …) to --process or --pid-file (with `run`: to the app by default).", valueName: "signal"))
    var signal: String?

    @Option(help: ArgumentHelp("The process to signal, by name; the oldest match (the nginx master, not a worker), found again on every reload. Needs `shareProcessNamespace: true` in a sidecar.", valueName: "name"))
    var process: String?

    @Option(name: .customLong("pid-file"), help: ArgumentHelp("The process to signal, by pid file.", valueName: "path"))
    var pidFile: String?

    @Option(help: ArgumentHelp("Reload by an HTTP request to this URL (repeatable), e.g. http://127.0.0.1:9090/-/reload.", valueName: "url"))
    var webhook: [String] = []

    @Option(name: .customLong("webhook-method"), help: ArgumentHelp("HTTP method of --webhook.", valueName: "method"))
    var webhookMethod: String = "POST"

    @Option(name: .customLong("webhook-header"), help: ArgumentHelp("A header for --webhook, 'Name: value' (repeatable; values are never logged).", valueName: "header"))
    var webhookHeaders: [String] = []

    @Option(name: .customLong("webhook-status"), help: ArgumentHelp("Statuses that count as success: 2xx, 200, 200-299, 200,204.", valueName: "statuses"))
    var webhookStatus: String = "2xx"

    @Option(name: .customLong("webhook-ca-file"), help: ArgumentHelp("PEM CA bundle to verify an https --webhook against (default: the system's).", valueName: "path"))
    var webhookCAFile: String?

    @Option(help: ArgumentHelp("Timeout of one attempt of an action.", valueName: "duration"))
    var timeout: String = "30s"

    @Option(help: ArgumentHelp("Attempts per reload before giving up (a newer change always supersedes the retries of an older one).", valueName: "n"))
    var retries: Int = 5

    @Option(name: .customLong("retry-backoff"), help: ArgumentHelp("First wait between attempts; doubles up to --retry-max-backoff.", valueName: "duration"))
    var retryBackoff: String = "200ms"

    @Option(name: .customLong("retry-max-backoff"), help: ArgumentHelp("Longest wait between attempts.", valueName: "duration"))
    var retryMaxBackoff: String = "10s"

    @Flag(name: .customLong("reload-on-start"), help: "Run the check and the reload once at start, for apps that need a first kick.")
    var reloadOnStart = false

    @Option(help: ArgumentHelp("Render this Mustache template to this output at start and before every check (repeatable); the pod data options (--root, --downward-dir, --resource, …) say where pod data comes from, and the --dir files are templates' files.NAME. See `podagent render --help`.", valueName: "template:output"))
    var render: [String] = []

    @Flag(name: .customLong("allow-missing"), help: "With --render: render names that resolve to nothing as empty text instead of failing.")
    var allowMissing = false

    @Option(help: ArgumentHelp("Serve /healthz, /readyz and /metrics on this address (:9090, 127.0.0.1:9090, [::]:9090).", valueName: "addr"))
    var listen: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp("json or text (default: text on a terminal, json otherwise).", valueName: "format"))
    var logFormat: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    func validate() throws {
        if directories.isEmpty { throw ValidationError("give at least one --dir to watch") }
        if process != nil && pidFile != nil { throw ValidationError("--process and --pid-file are alternatives; give one") }
        if (process != nil || pidFile != nil) && signal == nil { throw ValidationError("--process/--pid-file need --signal SIG") }
        if let signal { _ = try wrap { () throws(SignalNameError) in try SignalName.parse(signal) } }
        if retries < 1 { throw ValidationError("--retries must be at least 1") }
        _ = try configuration(allowChildSignal: true)
    }

    /// Builds the library configuration; `allowChildSignal` is true for `run`, where a bare --signal
    /// goes to the app.
    func configuration(allowChildSignal: Bool) throws -> HotReloadConfiguration {
        var watch = WatchConfiguration(directories: directories)
        watch.waitForMissing = wait
        watch.include = include
        watch.exclude = exclude
        watch.onLabels = onLabels
        watch.onAnnotations = onAnnotations
        watch.debounce = try duration(debounce, "--debounce")
        watch.minInterval = try duration(minInterval, "--min-interval")
        watch.quietPeriod = try duration(quietPeriod, "--quiet-period")
        var configuration = HotReloadConfiguration(watch: watch)
        if let check { configuration.check = try argv(check, "--check") }
        configuration.checkTimeout = try positiveDuration(checkTimeout, "--check-timeout")
        configuration.actionTimeout = try positiveDuration(timeout, "--timeout")
        configuration.retry = RetryPolicy(initialBackoff: try duration(retryBackoff, "--retry-backoff"),
                                          maxBackoff: try duration(retryMaxBackoff, "--retry-max-backoff"),
                                          maxAttempts: retries)
        configuration.reloadOnStart = reloadOnStart
        if let listen { configuration.listen = try wrap { () throws(ListenAddressError) in try ListenAddress(parsing: listen) } }

        // Actions run in the order their flags appear on the command line.
        var execs = exec.makeIterator()
        var webhooks = webhook.makeIterator()
        var signalUsed = false
        for kind in actionOrder() {
            switch kind {
            case "--exec":
                if let command = execs.next() { configuration.actions.append(.exec(argv: try argv(command, "--exec"))) }
            case "--webhook":
                if let url = webhooks.next() {
                    let headers = try webhookHeaders.map { text in try wrap { () throws(WebhookConfigurationError) in try WebhookHeader(parsing: text) } }
                    let expected = try wrap { () throws(WebhookConfigurationError) in try ExpectedStatus(parsing: webhookStatus) }
                    let requestTimeout = try duration(timeout, "--timeout")
                    let action = try wrap { () throws(WebhookConfigurationError) in
                        try WebhookAction(url: url, method: webhookMethod, headers: headers, expectedStatus: expected,
                                          timeout: requestTimeout, caFile: webhookCAFile)
                    }
                    configuration.actions.append(.webhook(action))
                }
            case "--signal":
                guard let signal, !signalUsed else { continue }
                signalUsed = true
                let number = try wrap { () throws(SignalNameError) in try SignalName.parse(signal) }
                if let process {
                    configuration.actions.append(.signal(number, .process(process)))
                } else if let pidFile {
                    configuration.actions.append(.signal(number, .pidFile(pidFile)))
                } else if allowChildSignal {
                    configuration.actions.append(.signal(number, .child))
                } else {
                    throw ValidationError("--signal needs --process NAME or --pid-file FILE to say who gets it")
                }
            default:
                break
            }
        }
        return configuration
    }

    /// The whole configuration of `watch` (or `run`, with `allowChildSignal`), `--render` included.
    func configuration(allowChildSignal: Bool, pod: PodDataOptions) throws -> HotReloadConfiguration {
        var configuration = try configuration(allowChildSignal: allowChildSignal)
        configuration.render = try renderSpec(pod: pod)
        // A labels or annotations file under another name is compared key by key (and so filtered by
        // --on-label / --on-annotation) like one named `labels` / `annotations`.
        if let file = pod.labelsFile, let name = file.split(separator: "/").last {
            configuration.watch.mapNames.labels.insert(String(name))
        }
        if let file = pod.annotationsFile, let name = file.split(separator: "/").last {
            configuration.watch.mapNames.annotations.insert(String(name))
        }
        return configuration
    }

    /// `--render T:O` pairs as renderer jobs (split at the last `:`, so a template path may hold one).
    func renderJobs() throws -> [TemplateRenderer.Job] {
        try render.map { pair in
            guard let colon = pair.lastIndex(of: ":"), colon != pair.startIndex, pair.index(after: colon) != pair.endIndex else {
                throw ValidationError("--render takes TEMPLATE:OUTPUT, e.g. /templates/nginx.conf.mustache:/etc/nginx/nginx.conf; got \"\(pair)\"")
            }
            return TemplateRenderer.Job(template: String(pair[..<colon]), output: String(pair[pair.index(after: colon)...]))
        }
    }

    /// The `--render` part of the configuration: pod data is read anew for every render.
    func renderSpec(pod: PodDataOptions) throws -> RenderSpec? {
        let jobs = try renderJobs()
        if jobs.isEmpty {
            if allowMissing { throw ValidationError("--allow-missing only applies to --render") }
            return nil
        }
        let paths = pod.paths
        let declarations = try pod.declarations()
        let directories = self.directories
        return RenderSpec(renderer: TemplateRenderer(jobs: jobs, allowMissing: allowMissing)) {
            let environment = PodView.processEnvironment()
            let view = try PodView.load(environment: environment, paths: paths, declarations: declarations)
            var warnings = view.warnings
            let data = try TemplateData.make(view: view, environment: environment, volumeDirectories: directories, warnings: &warnings)
            return (data, warnings)
        }
    }

    /// The action flags in command-line order (ArgumentParser keeps each option's values but not the
    /// interleaving of different options).
    func actionOrder() -> [String] {
        var order: [String] = []
        for argument in CommandLine.arguments.dropFirst() {
            if argument == "--" { break }
            for flag in ["--exec", "--webhook", "--signal"] where argument == flag || argument.hasPrefix(flag + "=") {
                order.append(flag)
            }
        }
        // Values given in ways the scan cannot see (tests calling parse directly): keep a stable order.
        let missingExec = exec.count - order.filter { $0 == "--exec" }.count
        let missingWebhook = webhook.count - order.filter { $0 == "--webhook" }.count
        order += Array(repeating: "--exec", count: max(0, missingExec))
        if signal != nil && !order.contains("--signal") { order.append("--signal") }
        order += Array(repeating: "--webhook", count: max(0, missingWebhook))
        return order
    }

    func argv(_ command: String, _ flag: String) throws -> [String] {
        let words = try wrap { () throws(ShellWordsError) in try ShellWords.argv(for: command, shell: shell) }
        if words.isEmpty { throw ValidationError("\(flag) is empty") }
        return words
    }

    func duration(_ text: String, _ flag: String) throws -> Duration {
        do {
            return try DurationText.parse(text)
        } catch {
            throw ValidationError("\(flag): \(error)")
        }
    }

    /// A timeout: zero would fail every attempt before it could start.
    func positiveDuration(_ text: String, _ flag: String) throws -> Duration {
        let value = try duration(text, flag)
        if value <= .zero { throw ValidationError("\(flag) must be longer than 0 (got \(text))") }
        return value
    }

    func makeLogger(label: String) throws -> Logger {
        let format = try logFormat.map { text in try wrap { () throws(LogOptionError) in try LogFormat(parsing: text) } } ?? LogFormat.preferred()
        let level = try wrap { () throws(LogOptionError) in try Logger.Level(parsing: logLevel) }
        LogSetup.bootstrap(format: format, level: level)
        return Logger(label: label)
    }
}

/// Turns a typed library error into a usage error (exit 64) with the library's message.
func wrap<T, E: Error>(_ body: () throws(E) -> T) throws -> T {
    do {
        return try body()
    } catch {
        throw ValidationError("\(error)")
    }
}
