#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Which API server `inspect` talks to, and how. Defaults are the in-cluster ones: the address from
/// `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, the service account's `ca.crt` and `token`.
public struct APIServerTarget: Sendable {
    /// `--api-server URL` (https only).
    public var url: String?
    /// `--ca-file`: the CA bundle the server's certificate must chain to (resolved inside the root).
    public var caFile: String?
    /// `--token-file`: the bearer token to present (resolved inside the root).
    public var tokenFile: String?
    /// `--check-permissions`: also ask what this service account may do in its namespace.
    public var checkPermissions = false
    /// Per request, and for the DNS lookup.
    public var timeout: Duration = .seconds(5)

    public init() {}
}

/// The `apiServer` section of `podagent inspect`: can this pod reach and trust its API server?
///
/// 1. The address, from `--api-server` or the env the kubelet injects (IPv6 bracketed).
/// 2. DNS of `kubernetes.default.svc` (what client libraries and kubectl in a pod use).
/// 3. A TLS handshake verified against `ca.crt` — always verified: without the CA there is no
///    connection, only a warning — and `GET /version`.
/// 4. With `--check-permissions`, a `SelfSubjectRulesReview`: the rules RBAC grants this service
///    account in its namespace.
///
/// The token goes only into the `Authorization` header; it never appears in the section.
public enum APIServerInspection {
    public static let serviceName = "kubernetes.default.svc"

    public static func inspect(
        _ target: APIServerTarget, paths: PodPaths, environment: [String: [UInt8]], namespace: String?,
        client: WebhookClient = .shared
    ) async -> InspectSection {
        var rows: [InspectSection.Row] = []
        var warnings: [String] = []
        var members: [PodValue.Member] = []
        func env(_ name: String) -> String? {
            environment[name].map { String(decoding: $0, as: UTF8.self) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let inCluster = target.url == nil

        // 1.
        let address: String
        let addressFrom: String
        if let url = target.url {
            address = url
            addressFrom = "--api-server"
        } else if let host = env("KUBERNETES_SERVICE_HOST") {
            let port = env("KUBERNETES_SERVICE_PORT") ?? "443"
            address = "https://" + (host.contains(":") ? "[\(host)]" : host) + ":" + port
            addressFrom = "env KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT"
        } else {
            rows.append(.init("address", "(unknown)"))
            warnings.append("KUBERNETES_SERVICE_HOST is not set, so the API server's address is unknown — not in a pod? "
                + "(pass --api-server https://HOST:PORT to check one)")
            return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings,
                                  value: .object([.init("address", .null)]))
        }
        rows.append(.init("address", "\(address)  (from \(addressFrom))"))
        members += [.init("address", .text(address)), .init("addressFrom", .text(addressFrom))]

        // 2.
        let dns = await resolve(serviceName, timeout: target.timeout)
        switch dns {
        case .addresses(let addresses):
            rows.append(.init("DNS", "\(serviceName) → \(addresses.joined(separator: ", "))"))
            members.append(.init("dns", .object([.init("name", .text(serviceName)),
                                                 .init("addresses", .list(addresses.map(PodValue.text))), .init("error", .null)])))
        case .failure(let reason):
            rows.append(.init("DNS", "\(serviceName) does not resolve: \(reason)"))
            members.append(.init("dns", .object([.init("name", .text(serviceName)), .init("addresses", .list([])),
                                                 .init("error", .text(reason))])))
            if inCluster {
                warnings.append("\(serviceName) does not resolve (\(reason)): in-cluster clients that use the name will fail — "
                    + "check the pod's dnsPolicy (ClusterFirst) and that CoreDNS runs")
            }
        }

        // 3.
        let url: WebhookURL
        do {
            url = try WebhookURL(parsing: address)
        } catch {
            warnings.append("\(address) is not a usable URL: \(error)")
            return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings, value: .object(members))
        }
        guard url.isTLS else {
            warnings.append("\(address) is not https: podagent talks to an API server only over verified TLS")
            return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings, value: .object(members))
        }
        let caPath = paths.resolve(target.caFile ?? FileSystem.join(PodPaths.defaultServiceAccountDirectory, "ca.crt"))
        members.append(.init("caFile", .text(caPath)))
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(caPath)
            guard !certificates.isEmpty else { throw SystemError("read", caPath, errno: ENODATA) }
            rows.append(.init("CA", "\(caPath)  (\(certificates.count) certificate\(certificates.count == 1 ? "" : "s"))"))
        } catch {
            rows.append(.init("CA", "\(caPath)  (unusable)"))
            warnings.append("cannot verify the API server: \(caPath) is missing or holds no PEM certificate — podagent does not "
                + "connect without verification (is the service-account volume mounted? pass --ca-file)")
            members.append(.init("tls", .object([.init("verified", .bool(false)), .init("error", .text("no CA"))])))
            return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings, value: .object(members))
        }
        let endpoint = WebhookEndpoint(url, trust: .pinned(caFile: caPath, certificates: certificates))
        let tokenPath = paths.resolve(target.tokenFile ?? FileSystem.join(PodPaths.defaultServiceAccountDirectory, "token"))
        let token = (try? FileSystem.readFile(tokenPath)).map { bytes in
            String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        }.flatMap { $0.isEmpty ? nil : $0 }

        let version = await call(.GET, "/version", body: nil, endpoint: endpoint, url: url, token: token, client: client,
                                 timeout: target.timeout)
        switch version {
        case .failure(let error):
            let message = transportMessage(error, caPath: caPath)
            rows.append(.init("TLS", "failed: \(message)"))
            members.append(.init("tls", .object([.init("verified", .bool(false)), .init("error", .text(message))])))
            warnings.append("cannot reach the API server at \(address): \(message)")
            members.append(.init("version", .null))
        case .success(let response):
            rows.append(.init("TLS", "verified against \(caPath)"))
            members.append(.init("tls", .object([.init("verified", .bool(true)), .init("error", .null)])))
            var versionMembers: [PodValue.Member] = [.init("status", .integer(Int64(response.status)))]
            if response.status == 200, case .success(let json) = ClaimsJSON.parse(response.bodyStart) {
                let git = (try? json.string("gitVersion")) ?? nil
                let platform = (try? json.string("platform")) ?? nil
                rows.append(.init("version", [git, platform].compactMap { $0 }.joined(separator: "  ")))
                versionMembers += [.init("gitVersion", git.map(PodValue.text) ?? .null),
                                   .init("platform", platform.map(PodValue.text) ?? .null)]
            } else {
                rows.append(.init("version", "GET /version → \(response.status)"))
                if let problem = statusProblem(response.status, token: token, tokenPath: tokenPath, what: "GET /version") {
                    warnings.append(problem)
                }
            }
            members.append(.init("version", .object(versionMembers)))
        }

        // 4.
        guard target.checkPermissions else {
            members.append(.init("permissions", .null))
            return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings, value: .object(members))
        }
        guard case .success = version else {
            members.append(.init("permissions", .null))
            return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings, value: .object(members))
        }
        let reviewNamespace = namespace ?? "default"
        let review = #"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","spec":{"namespace":"#
            + JSONText.string(reviewNamespace) + "}}"
        let answer = await call(.POST, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body: review,
                                endpoint: endpoint, url: url, token: token, client: client, timeout: target.timeout)
        var permission: [PodValue.Member] = [.init("namespace", .text(reviewNamespace))]
        switch answer {
        case .failure(let error):
            warnings.append("the permission review failed: \(transportMessage(error, caPath: caPath))")
        case .success(let response):
            permission.append(.init("status", .integer(Int64(response.status))))
            if response.status == 201 || response.status == 200, case .success(let json) = ClaimsJSON.parse(response.bodyStart) {
                let rules = rulesReview(json, namespace: reviewNamespace)
                rows += rules.rows
                warnings += rules.warnings
                permission += rules.members
            } else {
                rows.append(.init("permissions", "SelfSubjectRulesReview → \(response.status)"))
                if let problem = statusProblem(response.status, token: token, tokenPath: tokenPath,
                                               what: "create selfsubjectrulesreviews") {
                    warnings.append(problem)
                }
            }
        }
        members.append(.init("permissions", .object(permission)))
        return InspectSection(key: "apiServer", title: "API server", rows: rows, warnings: warnings, value: .object(members))
    }

    // MARK: - Parts

    private static func call(
        _ method: HTTPMethod, _ path: String, body: String?, endpoint: WebhookEndpoint, url: WebhookURL, token: String?,
        client: WebhookClient, timeout: Duration
    ) async -> Result<WebhookResponse, WebhookTransportError> {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: url.hostHeader)
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: "podagent/\(PodAgentVersion.string) (inspect)")
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        var buffer: ByteBuffer?
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            buffer = ByteBuffer(string: body)
        }
        // The path is appended to the URL's own (a proxy prefix such as https://host/k8s/clusters/c-1).
        let base = url.requestTarget.hasSuffix("/") ? String(url.requestTarget.dropLast()) : url.requestTarget
        var request = WebhookRequest(method: method, target: base + path, headers: headers, body: buffer)
        request.keepBody = WebhookExchangeHandler.bodyLimit
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        do {
            return .success(try await client.send(request, to: endpoint, deadline: .now() + .nanoseconds(nanoseconds)))
        } catch {
            return .failure(error)
        }
    }

    private static func transportMessage(_ error: WebhookTransportError, caPath: String) -> String {
        switch error {
        case .tls(let detail):
            return "TLS verification failed (\(detail)) — the server's certificate does not chain to \(caPath), or names "
                + "another host; is this the right CA and address?"
        case .connectionRefused: return "connection refused"
        case .timedOut: return "no answer in time"
        case .cannotResolve(let host, let detail): return "\(host) does not resolve: \(detail)"
        case .cannotConnect(let detail): return "cannot connect: \(detail)"
        case .closedBeforeAnswer: return "the connection closed before an answer"
        case .invalidAnswer(let detail): return "not an HTTP answer: \(detail)"
        case .shutDown, .cancelled: return "cancelled"
        case .other(let detail): return detail
        }
    }

    /// 401 and 403 explained for a person; nil for statuses that need no explanation.
    private static func statusProblem(_ status: Int, token: String?, tokenPath: String, what: String) -> String? {
        switch status {
        case 401:
            return token == nil
                ? "401 Unauthorized: no token was sent (\(tokenPath) is missing or empty — automountServiceAccountToken: false?)"
                : "401 Unauthorized: the API server does not accept this pod's token — expired or revoked (the kubelet "
                    + "rotates it; a service account deleted and recreated invalidates it), or issued for another cluster"
        case 403:
            return "403 Forbidden: the token is valid, but RBAC does not allow \(what) for this service account"
        default:
            return (200...299).contains(status) ? nil : "\(what) answered \(status)"
        }
    }

    private static func rulesReview(_ json: ClaimsJSON, namespace: String)
        -> (rows: [InspectSection.Row], warnings: [String], members: [PodValue.Member])
    {
        let status = json["status"]
        func strings(_ value: ClaimsJSON?) -> [String] {
            guard case .array(let items)? = value else { return [] }
            return items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        }
        var rows: [InspectSection.Row] = [.init("permissions", "in namespace \(namespace) (SelfSubjectRulesReview)")]
        var warnings: [String] = []
        var resourceRules: [PodValue] = []
        if case .array(let rules)? = status?["resourceRules"] {
            for rule in rules {
                let verbs = strings(rule["verbs"]), groups = strings(rule["apiGroups"])
                let resources = strings(rule["resources"]), names = strings(rule["resourceNames"])
                let groupText = groups.map { $0.isEmpty ? "core" : $0 }.joined(separator: ",")
                rows.append(.init(verbs.joined(separator: ","),
                                  resources.joined(separator: ",") + (groups.isEmpty ? "" : "  (\(groupText))")
                                      + (names.isEmpty ? "" : "  names: " + names.joined(separator: ",")), indent: 1))
                resourceRules.append(.object([
                    .init("verbs", .list(verbs.map(PodValue.text))), .init("apiGroups", .list(groups.map(PodValue.text))),
                    .init("resources", .list(resources.map(PodValue.text))), .init("resourceNames", .list(names.map(PodValue.text))),
                ]))
                if verbs.contains("*") && resources.contains("*") {
                    warnings.append("this service account may do anything to anything in \(namespace) (verbs * on resources *): "
                        + "grant only what the app needs")
                }
            }
        }
        var nonResourceRules: [PodValue] = []
        if case .array(let rules)? = status?["nonResourceRules"] {
            for rule in rules {
                let verbs = strings(rule["verbs"]), urls = strings(rule["nonResourceURLs"])
                rows.append(.init(verbs.joined(separator: ","), urls.joined(separator: ","), indent: 1))
                nonResourceRules.append(.object([.init("verbs", .list(verbs.map(PodValue.text))),
                                                 .init("nonResourceURLs", .list(urls.map(PodValue.text)))]))
            }
        }
        var incomplete = false
        if case .bool(let value)? = status?["incomplete"] { incomplete = value }
        let evaluationError = (try? status?.string("evaluationError")) ?? nil
        if incomplete {
            warnings.append("the rules review is incomplete (an authorizer other than RBAC, e.g. a webhook, may allow more)"
                + (evaluationError.map { ": \($0)" } ?? ""))
        }
        return (rows, warnings, [
            .init("incomplete", .bool(incomplete)), .init("evaluationError", evaluationError.map(PodValue.text) ?? .null),
            .init("resourceRules", .list(resourceRules)), .init("nonResourceRules", .list(nonResourceRules)),
        ])
    }

    /// The webhooks' resolver (getaddrinfo on NIO's blocking pool, never libdispatch), raced with
    /// `timeout`: a resolver that does not answer must not hold up the whole report.
    static func resolve(_ name: String, timeout: Duration) async -> DNSAnswer {
        await withTaskGroup(of: DNSAnswer?.self) { group in
            group.addTask {
                do {
                    let addresses = try await NIOThreadPool.singleton.runIfActive {
                        try WebhookAddressResolver.resolve(host: name, port: 443)
                    }
                    return .addresses(addresses.compactMap(\.ipAddress))
                } catch WebhookTransportError.cannotResolve(_, let detail) {
                    return .failure(detail)
                } catch {
                    return .failure("\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return .failure("no answer within \(timeout.reloadText)")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure("lookup failed")
        }
    }

    /// What a DNS lookup gave: addresses, or the resolver's reason.
    enum DNSAnswer: Sendable {
        case addresses([String])
        case failure(String)
    }
}

