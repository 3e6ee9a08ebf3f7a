// Specification of the service-account section of `podagent inspect`: claims read from tokens shaped
// like the ones kube-apiserver issues (bound tokens through TokenRequest, legacy Secret-based ones),
// mounted by the project's AtomicWriter as the kubelet mounts `kube-api-access-*`, with the warnings
// about expiry, and the guarantee that no token — or malformed token — ever appears in the output.
import Testing

@testable import PodAgentKit

/// The kubelet's bound-token fixture: a real TokenRequest response's shape, with a fake RS256 signature.
private struct TokenFixture {
    var issuedAt: Int64 = 1_795_430_400  // 2026-11-23T10:40:00Z
    var lifetime: Int64 = 3607
    var namespace = "shop"
    var extraClaims = ""
    var omitExpiry = false

    static let signature = String(repeating: "Zm9vYmFyYmF6cXV4", count: 21) + "U2lnbmF0dXJl"
    static let keyID = "Xb7cQ1nO3yq8v9r0eZpMkLw2uHfT4sJd6aGiRyBnVcE"

    var header: String { #"{"alg":"RS256","kid":"\#(Self.keyID)"}"# }

    var claims: String {
        let expiry = omitExpiry ? "" : #""exp":\#(issuedAt + lifetime),"#
        return #"{"aud":["https://kubernetes.default.svc.cluster.local","k3s"],"# + expiry
            + #""iat":\#(issuedAt),"iss":"https://kubernetes.default.svc.cluster.local","#
            + #""jti":"3b0a3c4e-6a8e-4f8e-9d7b-2f1b6c0e9a11","#
            + #""kubernetes.io":{"namespace":"\#(namespace)","#
            + #""node":{"name":"worker-3","uid":"8f1f2c6d-0e55-4c1b-a1d7-5c0f8a9e2b34"},"#
            + #""pod":{"name":"web-7d9f8b6c5-x2kqp","uid":"4a2c9e1b-7f3d-4b8a-9c6e-1d2f3a4b5c6d"},"#
            + #""serviceaccount":{"name":"web","uid":"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"},"#
            + #""warnafter":\#(issuedAt + 3607)},"nbf":\#(issuedAt),"# + extraClaims
            + #""sub":"system:serviceaccount:\#(namespace):web"}"#
    }

    var token: String {
        Base64.encode(header.utf8, url: true) + "." + Base64.encode(claims.utf8, url: true) + "." + Self.signature
    }
}

/// A legacy token as the token controller wrote it into a `kubernetes.io/service-account-token` Secret.
private let legacyToken: String = {
    let claims = #"{"iss":"kubernetes/serviceaccount","kubernetes.io/serviceaccount/namespace":"shop","#
        + #""kubernetes.io/serviceaccount/secret.name":"web-token-7xk2p","#
        + #""kubernetes.io/serviceaccount/service-account.name":"web","#
        + #""kubernetes.io/serviceaccount/service-account.uid":"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f","#
        + #""sub":"system:serviceaccount:shop:web"}"#
    return Base64.encode(#"{"alg":"RS256","kid":"legacy-kid"}"#.utf8, url: true) + "." + Base64.encode(claims.utf8, url: true) + "."
        + TokenFixture.signature
}()

/// A sandbox root whose service-account directory is written as the kubelet's projected volume.
private func sandbox(token: String?, namespace: String? = "shop") throws -> TemporaryDirectory {
    let root = TemporaryDirectory("inspect-sa")
    let directory = root.path + PodPaths.defaultServiceAccountDirectory
    try FileSystem.makeDirectories(directory)
    var payload: [String: FileProjection] = ["ca.crt": FileProjection(text: "-----BEGIN CERTIFICATE-----\n")]
    if let token { payload["token"] = FileProjection(text: token, mode: 0o600) }
    if let namespace { payload["namespace"] = FileProjection(text: namespace) }
    try AtomicWriter(targetDirectory: directory).write(payload)
    return root
}

private func inspect(_ root: TemporaryDirectory, now: Int64, tokenFile: String? = nil) -> InspectSection {
    ServiceAccountInspection.inspect(paths: PodPaths(root: root.path), tokenFile: tokenFile, now: now)
}

/// The section for a sandbox holding `token` and `namespace`, the sandbox removed afterwards.
private func inspect(token: String?, namespace: String? = "shop", now: Int64) throws -> InspectSection {
    let root = try sandbox(token: token, namespace: namespace)
    defer { root.remove() }
    return inspect(root, now: now)
}

/// Everything a section can show: rows, warnings, and its value as JSON and YAML.
func everythingShown(_ section: InspectSection) -> String {
    let report = InspectReport(sections: [section])
    return report.text(colour: false) + "\n" + report.json().text + "\n" + report.yaml() + "\n"
        + section.rows.map { "\($0.label) \($0.value)" }.joined(separator: "\n") + section.warnings.joined(separator: "\n")
}

/// Whether any `window`-character piece of `secret` appears in `output`: "not even a prefix" means no piece.
func showsAnyPiece(of secret: String, in output: String, window: Int = 10) -> Bool {
    let characters = Array(secret)
    guard characters.count >= window else { return output.contains(secret) }
    return (0...(characters.count - window)).contains { output.contains(String(characters[$0..<($0 + window)])) }
}

@Suite("inspect: service account")
struct InspectServiceAccountTests {
    private let fixture = TokenFixture()
    private var issued: Int64 { fixture.issuedAt }

    @Test("a bound token's claims are decoded: subject, audiences, issuer, pod, node, service account")
    func boundClaims() throws {
        let claims = try JWTClaims.decode(Array(fixture.token.utf8)).get()
        #expect(claims.subject == "system:serviceaccount:shop:web")
        #expect(claims.audiences == ["https://kubernetes.default.svc.cluster.local", "k3s"])
        #expect(claims.issuer == "https://kubernetes.default.svc.cluster.local")
        #expect(claims.kubernetes.pod == .init(name: "web-7d9f8b6c5-x2kqp", uid: "4a2c9e1b-7f3d-4b8a-9c6e-1d2f3a4b5c6d"))
        #expect(claims.kubernetes.node == .init(name: "worker-3", uid: "8f1f2c6d-0e55-4c1b-a1d7-5c0f8a9e2b34"))
        #expect(claims.kubernetes.serviceAccount == .init(name: "web", uid: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"))
        #expect(claims.kubernetes.namespace == "shop")
        #expect(claims.algorithm == "RS256" && claims.keyID == TokenFixture.keyID)
        #expect(!claims.isLegacy)
    }

    @Test("times come as RFC 3339 and Unix seconds, with age and time to expiry relative to now")
    func times() throws {
        let section = try inspect(token: fixture.token, now: issued + 600)
        let token = try #require(section.value["token"])
        #expect(token["issuedAt"] == .text("2026-11-23T10:40:00Z"))
        #expect(token["issuedAtUnix"] == .integer(issued))
        #expect(token["expiresAtUnix"] == .integer(issued + 3607))
        #expect(token["warnAfterUnix"] == .integer(issued + 3607))
        #expect(token["ageSeconds"] == .integer(600))
        #expect(token["expiresInSeconds"] == .integer(3007))
        #expect(token["lifetimeSeconds"] == .integer(3607))
        #expect(section.warnings.isEmpty)
    }

    @Test("a single-string aud is read as a one-element list")
    func singleAudience() throws {
        let claims = #"{"aud":"vault","exp":2000000000,"sub":"system:serviceaccount:a:b"}"#
        let token = Base64.encode(#"{"alg":"RS256"}"#.utf8, url: true) + "." + Base64.encode(claims.utf8, url: true) + ".c2ln"
        #expect(try JWTClaims.decode(Array(token.utf8)).get().audiences == ["vault"])
    }

    @Test("the namespace file is reported")
    func namespaceFile() throws {
        let section = try inspect(token: fixture.token, now: issued)
        #expect(section.value["namespace"] == .text("shop"))
    }

    @Test("an expired token is a warning")
    func expired() throws {
        let section = try inspect(token: fixture.token, now: issued + 3607 + 120)
        #expect(section.warnings.contains { $0.hasPrefix("the token expired 2m ago") })
        #expect(section.value["token"]?["expiresInSeconds"] == .integer(-120))
    }

    @Test("a token with less than 10 % of its lifetime left is about to expire")
    func nearExpiryByShare() throws {
        var long = fixture
        long.lifetime = 86400
        let section = try inspect(token: long.token, now: issued + 86400 - 8000)
        #expect(section.warnings.contains { $0.hasPrefix("the token expires in 2h13m") && $0.contains("less than 10 % of its 1d lifetime") })
    }

    @Test("a token with less than 10 minutes left is about to expire, whatever its lifetime")
    func nearExpiryByMinutes() throws {
        var long = fixture
        long.lifetime = 600 + 60
        let section = try inspect(token: long.token, now: issued + 120)
        #expect(section.warnings.contains { $0.hasPrefix("the token expires in 9m") })
    }

    @Test("a bound token past its warnafter is flagged as stale")
    func pastWarnAfter() throws {
        var extended = fixture
        extended.lifetime = 365 * 86400
        let section = try inspect(token: extended.token, now: issued + 7200)
        #expect(section.warnings.count == 1)
        #expect(section.warnings.first?.hasPrefix("the token is past its warnafter time (59m53s ago)") == true)
    }

    @Test("a legacy Secret-based token without exp never rotates")
    func legacy() throws {
        let section = try inspect(token: legacyToken, now: issued)
        #expect(section.warnings == [
            "legacy service-account token with no expiry — it never rotates; use the projected token the kubelet mounts "
                + "(remove the Secret-based volume, or the kubernetes.io/service-account-token Secret)"
        ])
        #expect(section.value["token"]?["legacy"] == .bool(true))
        #expect(section.value["token"]?["secret"]?["name"] == .text("web-token-7xk2p"))
        #expect(section.value["token"]?["serviceAccount"]?["name"] == .text("web"))
    }

    @Test("a namespace file that disagrees with the token's namespace is a warning")
    func namespaceMismatch() throws {
        let section = try inspect(token: fixture.token, namespace: "billing", now: issued)
        #expect(section.warnings.contains { $0.contains("says billing but the token is for namespace shop") })
    }

    @Test("a token file that is not a JWT is reported as undecodable, without its content")
    func notAJWT() throws {
        let planted = "s3cr3t-not-a-jwt-8d1c0ffee"
        let section = try inspect(token: planted, now: issued)
        #expect(section.value["token"]?["decoded"] == .bool(false))
        #expect(section.warnings.contains { $0.contains("it is not a JWT: it has 1 dot-separated part, a JWT has 3") })
        #expect(!showsAnyPiece(of: planted, in: everythingShown(section)))
    }

    @Test("malformed JWTs never crash the decoder and never appear in its errors", arguments: [
        "a.b", "..", "a.b.c.d", "!!!.???.sig", "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOg.c2ln", "eyJhbGciOiJSUzI1NiJ9.W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW10.x",
        "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJzb29uIn0.c2ln", "eyJhbGciOiJSUzI1NiJ9.WzFd.c2ln", "eyJhbGci.eyJzdWIiOiJcdWQ4MDAifQ.x",
        "\u{0}\u{1}.\u{FF}.x", "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOlsxXX0.c2ln",
    ])
    func malformed(token: String) throws {
        let result = JWTClaims.decode(Array(token.utf8))
        if case .failure(let error) = result {
            for part in token.split(separator: ".") where part.count > 3 {
                #expect(!error.description.contains(part))
            }
        }
    }

    @Test("a lone surrogate in a claim becomes U+FFFD instead of failing")
    func loneSurrogate() throws {
        let token = Base64.encode(#"{"alg":"RS256"}"#.utf8, url: true) + "." + Base64.encode(#"{"sub":"a\ud800b"}"#.utf8, url: true) + ".x"
        #expect(try JWTClaims.decode(Array(token.utf8)).get().subject == "a\u{FFFD}b")
    }

    @Test("nesting deeper than any claim set is refused, not recursed into")
    func deepNesting() {
        let payload = String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000)
        let token = Base64.encode(#"{"alg":"RS256"}"#.utf8, url: true) + "." + Base64.encode(payload.utf8, url: true) + ".x"
        guard case .failure(.notJSON(part: .payload, _)) = JWTClaims.decode(Array(token.utf8)) else {
            Issue.record("expected a JSON failure")
            return
        }
    }

    @Test("a fractional NumericDate is rounded down to whole seconds")
    func fractionalTime() throws {
        let token = Base64.encode(#"{"alg":"RS256"}"#.utf8, url: true) + "." + Base64.encode(#"{"exp":1795434007.75}"#.utf8, url: true) + ".x"
        #expect(try JWTClaims.decode(Array(token.utf8)).get().expiresAt == 1_795_434_007)
    }

    @Test("the token, its payload and its signature never appear in rows, warnings or value")
    func tokenNeverShown() throws {
        let token = fixture.token
        for now in [issued, issued + 3000, issued + 99999] {
            let output = everythingShown(try inspect(token: token, namespace: "billing", now: now))
            #expect(!showsAnyPiece(of: token, in: output))
        }
    }

    @Test("--token-file is read instead of the mounted token, resolved inside the root")
    func tokenFileOverride() throws {
        let root = try sandbox(token: legacyToken)
        defer { root.remove() }
        root.write("custom/token", fixture.token)
        let section = inspect(root, now: issued, tokenFile: "/custom/token")
        #expect(section.value["token"]?["legacy"] == .bool(false))
        #expect(section.value["token"]?["path"] == .text(root.path + "/custom/token"))
    }

    @Test("no service-account volume is a fact, not a warning")
    func notMounted() {
        let root = TemporaryDirectory("inspect-sa-none")
        defer { root.remove() }
        let section = inspect(root, now: issued)
        #expect(section.value["token"] == .null)
        #expect(section.value["namespace"] == .null)
        #expect(section.warnings.isEmpty)
    }
}
