import ArgumentParser
import PodAgentKit

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render Mustache templates with what the pod sees, writing each output atomically.",
        discussion: """
            A template sees the pod's data tree (pod.name, pod.namespace, …, labels, annotations, resources, \
            cgroup, cpus — the same as `podagent env --format json`), env (this process's environment) and files \
            (the files of each --dir, by name). Keys with `.` or `/` are reachable through an alias where every \
            byte other than A-Z, a-z, 0-9 and _ becomes _: annotations.example_com_log_level. Values are \
            inserted verbatim ({{x}} does not HTML-escape). A name that resolves to nothing is an error naming \
            template, line and column, unless --allow-missing; a name used in an inverted section \
            ({{^x}}default{{/x}}) is optional everywhere in that template.

            Every template is rendered before any output is written: one failure leaves all outputs as they \
            were. Outputs keep the template's file mode; an output whose content is unchanged is not touched.

            Example (init container):
              podagent render --template /templates/nginx.conf.mustache --output /etc/nginx/nginx.conf
            """
    )

    @OptionGroup var pod: PodDataOptions

    @Option(help: ArgumentHelp("A Mustache template (repeatable; each pairs with the --output at the same position).", valueName: "path"))
    var template: [String] = []

    @Option(help: ArgumentHelp("Where the template at the same position is written.", valueName: "path"))
    var output: [String] = []

    @Option(name: .customLong("dir"), help: ArgumentHelp("A volume directory whose files templates see as files.NAME (repeatable).", valueName: "dir"))
    var directories: [String] = []

    @Flag(name: .customLong("allow-missing"), help: "Render names that resolve to nothing as empty text instead of failing.")
    var allowMissing = false

    func validate() throws {
        if template.isEmpty { throw ValidationError("give at least one --template T --output O pair") }
        if template.count != output.count {
            throw ValidationError("--template and --output pair up by position: got \(template.count) template(s) and \(output.count) output(s)")
        }
    }

    func run() throws {
        let view = try pod.load()
        let renderer = TemplateRenderer(
            jobs: zip(template, output).map { TemplateRenderer.Job(template: $0, output: $1) }, allowMissing: allowMissing)
        var warnings: [String] = []
        do {
            let data = try TemplateData.make(
                view: view, environment: PodView.processEnvironment(), volumeDirectories: directories, warnings: &warnings)
            for warning in warnings { printWarning(warning) }
            for result in try renderer.render(data) {
                print("\(result.job.output): \(result.changed ? "written" : "unchanged") (from \(result.job.template))")
            }
        } catch {
            throw CommandFailure("\(error)")
        }
    }
}
