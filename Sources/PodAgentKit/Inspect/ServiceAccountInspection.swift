#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `serviceAccount` section of `podagent inspect`: the namespace file and the token's claims, with
/// its age and time to expiry — never the token itself, nor any part of it.
///
/// ```swift
/// let section = ServiceAccountInspection.inspect(paths: PodPaths(root: "/"), now: WallClock.now().seconds)
/// section.value["token"]?["expiresInSeconds"]   // .integer(2873)
/// ```
///
/// Value (every key always present; unknown values are `null`; times are RFC 3339 UTC strings with a
/// `…Unix` twin in seconds; durations are whole seconds, negative when in the past):
/// ```
/// {"directory": "/var/run/secrets/kubernetes.io/serviceaccount",
///  "namespace": "shop" | null,
///  "token": null | {
///    "path", "bytes",
///    "decoded": true | false, "error": null | "it is not a JWT: …",
///    "legacy": bool,
///    "algorithm", "keyID", "subject", "audiences": [..], "issuer",
///    "namespace", "pod": {"name","uid"} | null, "node": {…} | null, "serviceAccount": {…} | null,
///    "secret": {"name","uid"} | null,
///    "issuedAt", "issuedAtUnix", "notBefore", "notBeforeUnix", "expiresAt", "expiresAtUnix",
///    "warnAfter", "warnAfterUnix",
///    "ageSeconds", "expiresInSeconds", "lifetimeSeconds"}}
/// ```
/// `token` is `null` when there is no token file. When `decoded` is false only `path`, `bytes`,
/// `decoded` and `error` are present.
public enum ServiceAccountInspection {
    /// Below this share of its lifetime left, a token is "about to expire": the kubelet replaces it at
    /// 80 %, so a token at 90 % means rotation has stalled.
    static let nearExpiryShare: Int64 = 10
    /// …or below this many seconds, whatever the lifetime.
    static let nearExpirySeconds: Int64 = 600

    /// Reads `<serviceAccountDirectory>/namespace` and the token (`tokenFile`, default
    /// `<serviceAccountDirectory>/token`; an absolute path is resolved inside the root like every pod
    /// path). `now` is Unix seconds, passed in so the result depends on nothing else.
    public static func inspect(paths: PodPaths, tokenFile: String? = nil, now: Int64) -> InspectSection {
        let directory = paths.serviceAccountDirectory
        let tokenPath = paths.resolve(tokenFile ?? FileSystem.join(directory, "token"))
        var rows: [InspectSection.Row] = []
        var warnings: [String] = []

        let namespaceFile = readFile(paths.serviceAccountNamespacePath)
        let namespace: String? = namespaceFile.bytes.map { bytes in
            String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        }
        rows.append(.init("namespace", namespace.map { "\($0)  (from \(paths.serviceAccountNamespacePath))" } ?? "(no file \(paths.serviceAccountNamespacePath))"))
        if let problem = namespaceFile.problem { warnings.append(problem) }

        let tokenFileRead = readFile(tokenPath)
        var tokenValue: PodValue = .null
        if let problem = tokenFileRead.problem { warnings.append(problem) }
        if let bytes = tokenFileRead.bytes {
            var members: [PodValue.Member] = [.init("path", .text(tokenPath)), .init("bytes", .integer(Int64(bytes.count)))]
            rows.append(.init("token", "\(tokenPath)  (\(bytes.count) bytes, not shown)"))
            switch JWTClaims.decode(bytes) {
            case .failure(let error):
                members += [.init("decoded", .bool(false)), .init("error", .text(error.description))]
                rows.append(.init("claims", "(cannot decode: \(error))", indent: 1))
                warnings.append(
                    "the token at \(tokenPath) cannot be decoded: \(error) — it is not shown; check what writes this file "
                        + "(the kubelet writes a JWT with no newline)")
            case .success(let claims):
                members += [.init("decoded", .bool(true)), .init("error", .null)]
                members += claimMembers(claims, now: now)
                rows += claimRows(claims, now: now)
                warnings += claimWarnings(claims, now: now, namespaceFile: namespace, namespacePath: paths.serviceAccountNamespacePath)
            }
            tokenValue = .object(members)
        } else if tokenFile != nil {
            rows.append(.init("token", "(no file \(tokenPath))"))
            warnings.append("the token file \(tokenPath) given with --token-file does not exist — check the path")
        } else if namespace != nil || FileSystem.isDirectory(paths.resolve(directory)) {
            rows.append(.init("token", "(no file \(tokenPath))"))
            warnings.append(
                "\(paths.resolve(directory)) exists but holds no token — is another volume mounted over it? "
                    + "(use --token-file if the token lives elsewhere)")
        } else {
            rows.append(.init("token", "(none: no service-account volume at \(paths.resolve(directory)); automountServiceAccountToken may be false)"))
        }

        return InspectSection(
            key: "serviceAccount", title: "Service account", rows: rows, warnings: warnings,
            value: .object([
                .init("directory", .text(directory)),
                .init("namespace", namespace.map(PodValue.text) ?? .null),
                .init("token", tokenValue),
            ]))
    }

    // MARK: Claims

    private static func claimMembers(_ claims: JWTClaims, now: Int64) -> [PodValue.Member] {
        func text(_ string: String?) -> PodValue { string.map(PodValue.text) ?? .null }
        func reference(_ object: JWTClaims.ObjectReference?) -> PodValue {
            object.map { .object([.init("name", text($0.name)), .init("uid", text($0.uid))]) } ?? .null
        }
        func time(_ key: String, _ seconds: Int64?) -> [PodValue.Member] {
            [.init(key, text(seconds.map(rfc3339))), .init(key + "Unix", seconds.map(PodValue.integer) ?? .null)]
        }
        let k = claims.kubernetes
        return [
            .init("legacy", .bool(claims.isLegacy)),
            .init("algorithm", text(claims.algorithm)),
            .init("keyID", text(claims.keyID)),
            .init("subject", text(claims.subject)),
            .init("audiences", .list(claims.audiences.map(PodValue.text))),
            .init("issuer", text(claims.issuer)),
            .init("namespace", text(claims.namespace)),
            .init("pod", reference(k.pod)),
            .init("node", reference(k.node)),
            .init("serviceAccount", reference(k.serviceAccount)),
            .init("secret", reference(k.secret)),
        ]
            + time("issuedAt", claims.issuedAt) + time("notBefore", claims.notBefore)
            + time("expiresAt", claims.expiresAt) + time("warnAfter", k.warnAfter)
            + [
                .init("ageSeconds", claims.issuedAt.map { PodValue.integer(now - $0) } ?? .null),
                .init("expiresInSeconds", claims.expiresAt.map { PodValue.integer($0 - now) } ?? .null),
                .init("lifetimeSeconds", claims.lifetimeSeconds.map(PodValue.integer) ?? .null),
            ]
    }

    private static func claimRows(_ claims: JWTClaims, now: Int64) -> [InspectSection.Row] {
        var rows: [InspectSection.Row] = []
        func add(_ label: String, _ value: String?) {
            if let value { rows.append(.init(label, value, indent: 1)) }
        }
        func describe(_ object: JWTClaims.ObjectReference?) -> String? {
            guard let object else { return nil }
            return (object.name ?? "(no name)") + (object.uid.map { "  uid \($0)" } ?? "")
        }
        func when(_ seconds: Int64?) -> String? {
            guard let seconds else { return nil }
            let offset = seconds - now
            return "\(rfc3339(seconds))  (" + (offset > 0 ? "in \(ElapsedText.text(offset))" : "\(ElapsedText.text(-offset)) ago") + ")"
        }
        add("kind", claims.isLegacy ? "legacy Secret-based token" : "bound token")
        add("subject", claims.subject)
        add("audiences", claims.audiences.isEmpty ? nil : claims.audiences.joined(separator: ", "))
        add("issuer", claims.issuer)
        add("namespace", claims.namespace)
        add("pod", describe(claims.kubernetes.pod))
        add("node", describe(claims.kubernetes.node))
        add("service account", describe(claims.kubernetes.serviceAccount))
        add("secret", describe(claims.kubernetes.secret))
        add("issued", when(claims.issuedAt))
        add("not before", when(claims.notBefore))
        add("expires", when(claims.expiresAt) ?? "never (no exp claim)")
        add("warn after", when(claims.kubernetes.warnAfter))
        add("lifetime", claims.lifetimeSeconds.map(ElapsedText.text))
        add("signed with", [claims.algorithm, claims.keyID.map { "key \($0)" }].compactMap { $0 }.joined(separator: ", ").nonEmpty)
        return rows
    }

    private static func claimWarnings(_ claims: JWTClaims, now: Int64, namespaceFile: String?, namespacePath: String) -> [String] {
        var warnings: [String] = []
        if let exp = claims.expiresAt {
            if exp <= now {
                warnings.append(
                    "the token expired \(ElapsedText.text(now - exp)) ago (\(rfc3339(exp))) — the API server rejects it with 401; "
                        + "the kubelet should have replaced it: check the kubelet's logs for token refresh errors, "
                        + "or whether this file is a copy nobody refreshes")
            } else {
                let left = exp - now
                let lifetime = claims.lifetimeSeconds
                let nearShare = lifetime.map { $0 > 0 && left * 100 < $0 * nearExpiryShare } ?? false
                if nearShare || left < nearExpirySeconds {
                    let share = lifetime.map { ", less than \(nearExpiryShare) % of its \(ElapsedText.text($0)) lifetime" } ?? ""
                    warnings.append(
                        "the token expires in \(ElapsedText.text(left)) (\(rfc3339(exp)))\(share) — the kubelet replaces it at "
                            + "80 % of its lifetime, so rotation looks stuck; apps must re-read the file, not keep the token they started with")
                }
            }
        } else if claims.isLegacy {
            warnings.append(
                "legacy service-account token with no expiry — it never rotates; use the projected token the kubelet mounts "
                    + "(remove the Secret-based volume, or the kubernetes.io/service-account-token Secret)")
        } else {
            warnings.append("the token has no exp claim — it never expires and never rotates; check which issuer minted it")
        }
        if let warnAfter = claims.kubernetes.warnAfter, warnAfter <= now, (claims.expiresAt ?? .max) > now {
            warnings.append(
                "the token is past its warnafter time (\(ElapsedText.text(now - warnAfter)) ago): the API server still accepts it "
                    + "but flags it as stale — the kubelet should have replaced it by now; check the kubelet's token refresh")
        }
        if let nbf = claims.notBefore, nbf > now {
            warnings.append(
                "the token is not valid for another \(ElapsedText.text(nbf - now)) (nbf \(rfc3339(nbf))) — this machine's clock "
                    + "is behind the API server's; check time sync on the node")
        }
        if let fileNamespace = namespaceFile, let claimNamespace = claims.namespace, fileNamespace != claimNamespace {
            warnings.append(
                "the namespace file \(namespacePath) says \(fileNamespace) but the token is for namespace \(claimNamespace) — "
                    + "the token belongs to another namespace's service account; check which volume provides it")
        }
        return warnings
    }

    // MARK: Files

    /// The file's bytes, nil when absent; any other failure becomes a problem to report, not a throw,
    /// so one unreadable file never hides the rest of the report.
    private static func readFile(_ path: String) -> (bytes: [UInt8]?, problem: String?) {
        do {
            return (try FileSystem.readFile(path), nil)
        } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { return (nil, nil) }
            return (nil, "cannot read \(path): \(error) — check that this user may read the service-account volume")
        }
    }

    static func rfc3339(_ seconds: Int64) -> String {
        WallClock.rfc3339Nano(seconds: seconds, nanoseconds: 0)
    }
}

/// A duration in seconds as a person reads it: `45s`, `47m12s`, `23h59m`, `364d23h` — the two largest
/// units, like kubectl's ages.
enum ElapsedText {
    static func text(_ seconds: Int64) -> String {
        if seconds < 0 { return "-" + text(seconds == .min ? .max : -seconds) }
        let days = seconds / 86400, hours = seconds % 86400 / 3600, minutes = seconds % 3600 / 60, rest = seconds % 60
        if days > 0 { return hours > 0 ? "\(days)d\(hours)h" : "\(days)d" }
        if hours > 0 { return minutes > 0 ? "\(hours)h\(minutes)m" : "\(hours)h" }
        if minutes > 0 { return rest > 0 ? "\(minutes)m\(rest)s" : "\(minutes)m" }
        return "\(rest)s"
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }
}
