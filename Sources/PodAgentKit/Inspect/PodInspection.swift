/// `podagent inspect` as a library call: every section, in the order a person debugging a pod reads
/// them, each built from files under ``PodPaths`` (so a sandbox made by `podagent simulate` works).
///
/// ```swift
/// let report = PodInspection.report(InspectOptions(paths: PodPaths(root: "/tmp/pod"), now: WallClock.now().seconds))
/// print(report.text(colour: false))
/// ```
///
/// A section that cannot be read becomes a warning, never the end of the report: the person running
/// `inspect` is usually looking for exactly the thing that is broken.
public struct InspectOptions: Sendable {
    public var paths: PodPaths
    /// `--resource` declarations, as for `podagent env`.
    public var declarations: [ResourceDeclaration] = []
    /// The environment to inspect (this process's by default).
    public var environment: [String: [UInt8]]
    /// `--token-file`: the service-account token, if not in the standard directory.
    public var tokenFile: String?
    /// Unix seconds "now", for ages and expiry.
    public var now: Int64

    public init(paths: PodPaths, environment: [String: [UInt8]] = PodView.processEnvironment(), now: Int64) {
        self.paths = paths
        self.environment = environment
        self.now = now
    }
}

public enum PodInspection {
    /// Every section; the API server's (network) only when `apiServer` is given, placed after the
    /// service account's.
    public static func report(_ options: InspectOptions, apiServer: APIServerTarget?) async -> InspectReport {
        var sections = localSections(options)
        if let apiServer {
            let namespace = (try? PodView.load(environment: options.environment, paths: options.paths))?.identity.namespace
            var target = apiServer
            if target.tokenFile == nil { target.tokenFile = options.tokenFile }
            let section = await APIServerInspection.inspect(target, paths: options.paths, environment: options.environment,
                                                            namespace: namespace)
            let index = (sections.firstIndex { $0.key == "serviceAccount" }).map { $0 + 1 } ?? sections.endIndex
            sections.insert(section, at: index)
        }
        return InspectReport(sections: sections)
    }

    /// The sections that need no network: identity, labels, annotations, resources, volumes, service
    /// account, processes, security context, environment.
    public static func localSections(_ options: InspectOptions) -> [InspectSection] {
        var sections: [InspectSection] = []
        do {
            let view = try PodView.load(environment: options.environment, paths: options.paths, declarations: options.declarations)
            var identity = IdentityInspection.identity(view)
            // The resources section explains rounding and node-allocatable caveats itself.
            identity.warnings += view.warnings.filter { !view.precisionWarnings.contains($0) }
            sections.append(identity)
            sections.append(IdentityInspection.metadata(view.labels, kind: .labels, path: options.paths.labelsPath))
            sections.append(IdentityInspection.metadata(view.annotations, kind: .annotations, path: options.paths.annotationsPath))
            sections.append(ResourceInspection.inspect(view))
        } catch {
            sections.append(InspectSection(
                key: "identity", title: "Identity", warnings: ["the pod's data could not be read: \(error)"], value: .null))
        }
        do {
            sections.append(try VolumeInspection.inspect(paths: options.paths, now: options.now))
        } catch {
            sections.append(InspectSection(key: "volumes", title: "Volumes", warnings: ["\(error)"], value: .null))
        }
        sections.append(ServiceAccountInspection.inspect(paths: options.paths, tokenFile: options.tokenFile, now: options.now))
        sections.append(ProcessInspection.inspect(paths: options.paths))
        sections.append(SecurityContextInspection.inspect(paths: options.paths))
        sections.append(IdentityInspection.environment(options.environment))
        return sections
    }
}
