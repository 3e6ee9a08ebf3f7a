import ArgumentParser
import PodAgentKit
#if canImport(Glibc)
import Glibc
#endif

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show what this pod sees, and what is wrong with it — without ever printing a secret.",
        discussion: """
            Sections: identity; labels and annotations; resources as declared (env, downward files) beside the \
            effective cgroup limits; volumes from /proc/self/mountinfo and the kubelet's ..data layout (kind, \
            medium, generation and its age, files with size, mode and — for non-secret volumes — a SHA-256 \
            digest; subPath mounts flagged because they never update); the service account (token claims and \
            expiry, never the token); the API server (address, DNS of kubernetes.default.svc, a TLS handshake \
            verified with ca.crt, GET /version, and with --check-permissions what the service account may do); \
            the processes visible (is the PID namespace shared?); the security \
            context (uid, groups, capabilities, no_new_privs, seccomp, read-only root); the environment \
            (values of names that look secret are withheld). Warnings follow each section.

            Examples:
              kubectl exec POD -- podagent inspect
              kubectl debug -it POD --image=IMAGE --target=CONTAINER -- podagent inspect
              podagent inspect --root /tmp/pod -o json        # a pod made by `podagent simulate`

            Exit status: 0 (also when there are warnings), 1 when the report cannot be written, 64 for bad options.
            """
    )

    @OptionGroup var pod: PodDataOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("text, json or yaml.", valueName: "format"))
    var output: String = "text"

    @Option(name: .customLong("token-file"), help: ArgumentHelp("The service-account token to decode, if not in /var/run/secrets/kubernetes.io/serviceaccount (resolved inside --root).", valueName: "path"))
    var tokenFile: String?

    @Option(name: .customLong("api-server"), help: ArgumentHelp("The API server to check, instead of https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT.", valueName: "url"))
    var apiServer: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp("The CA bundle the API server's certificate must chain to, instead of the service account's ca.crt (resolved inside --root). Verification is never off.", valueName: "path"))
    var caFile: String?

    @Flag(name: .customLong("check-permissions"), help: "Also ask the API server what this service account may do in its namespace (SelfSubjectRulesReview).")
    var checkPermissions = false

    @Flag(help: "Skip the API server section (no DNS lookup, no connection).")
    var offline = false

    @Option(help: ArgumentHelp("Timeout of each API server request and of the DNS lookup.", valueName: "duration"))
    var timeout: String = "5s"

    @Option(name: .customLong("color"), help: ArgumentHelp("auto (on a terminal, unless NO_COLOR), always or never.", valueName: "when"))
    var color: String = "auto"

    func validate() throws {
        guard ["text", "json", "yaml"].contains(output) else {
            throw ValidationError("-o/--output takes text, json or yaml, got \"\(output)\"")
        }
        guard ["auto", "always", "never"].contains(color) else {
            throw ValidationError("--color takes auto, always or never, got \"\(color)\"")
        }
        _ = try requestTimeout()
        if offline && (apiServer != nil || caFile != nil || checkPermissions) {
            throw ValidationError("--offline skips the API server; --api-server, --ca-file and --check-permissions need it")
        }
    }

    func requestTimeout() throws -> Duration {
        do {
            return try DurationText.parse(timeout)
        } catch {
            throw ValidationError("--timeout: \(error)")
        }
    }

    func run() async throws {
        var options = InspectOptions(paths: pod.paths, now: WallClock.now().seconds)
        options.declarations = try pod.declarations()
        options.tokenFile = tokenFile
        var target: APIServerTarget?
        if !offline {
            var api = APIServerTarget()
            api.url = apiServer
            api.caFile = caFile
            api.checkPermissions = checkPermissions
            api.timeout = try requestTimeout()
            target = api
        }
        let report = await PodInspection.report(options, apiServer: target)
        await WebhookClient.shared.shutdown()
        let bytes: [UInt8]
        switch output {
        case "json": bytes = report.json().bytes + [0x0A]
        case "yaml": bytes = Array(report.yaml().utf8)
        default:
            let colour = color == "always" || (color == "auto" && isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
                && getenv("TERM").map { String(cString: $0) } != "dumb")
            bytes = Array(report.text(colour: colour).utf8)
        }
        if !writeAll(bytes, to: STDOUT_FILENO) {
            throw CommandFailure("cannot write the report to stdout: \(SystemError("write", "stdout"))")
        }
    }
}
