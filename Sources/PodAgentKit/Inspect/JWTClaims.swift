#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The claims of a service-account token, read from its JWT payload for `podagent inspect`.
///
/// The signature is not checked: the API server does that, and podagent only reports what the token
/// says about itself. Two shapes are understood (KUBELET.md §5):
/// - a bound token (TokenRequest, projected volume): `aud`, `exp`, `iat`, `nbf`, `iss`, `sub` and a
///   `kubernetes.io` object with `namespace`, `pod`, `node`, `serviceaccount` and `warnafter`;
/// - a legacy token from a `kubernetes.io/service-account-token` Secret: `iss` is
///   `kubernetes/serviceaccount`, flat `kubernetes.io/serviceaccount/…` claims, and no `exp`.
///
/// ```swift
/// switch JWTClaims.decode(tokenBytes) {
/// case .success(let claims): claims.expiresAt    // 1795430407
/// case .failure(let error):  "\(error)"          // says why, never what the token holds
/// }
/// ```
///
/// Nothing here keeps the token, its header or its signature as text; a failure describes the token's
/// shape (part count, offsets) and never quotes it, so no message can leak a malformed token.
public struct JWTClaims: Sendable, Equatable {
    /// `alg` of the header (`RS256`, `ES256`; `none` for `podagent simulate`'s tokens).
    public var algorithm: String?
    /// `kid` of the header: which of the issuer's keys signed it (public, a key fingerprint).
    public var keyID: String?
    /// `sub`: `system:serviceaccount:<namespace>:<name>`.
    public var subject: String?
    /// `aud`, which JWT allows as one string or a list; always a list here.
    public var audiences: [String]
    /// `iss`.
    public var issuer: String?
    /// `iat`, `nbf`, `exp` in Unix seconds (a fractional NumericDate is rounded down).
    public var issuedAt: Int64?
    public var notBefore: Int64?
    public var expiresAt: Int64?
    /// The pod-binding claims; for a legacy token, its flat claims mapped onto the same fields.
    public var kubernetes: KubernetesClaims

    /// True for a token minted by the legacy token controller from a Secret, not by TokenRequest.
    public var isLegacy: Bool

    /// The `kubernetes.io` claim of a bound token.
    public struct KubernetesClaims: Sendable, Equatable {
        public var namespace: String?
        public var pod: ObjectReference?
        public var node: ObjectReference?
        public var serviceAccount: ObjectReference?
        /// The Secret a legacy token was read from (legacy tokens only).
        public var secret: ObjectReference?
        /// `warnafter`: when the API server starts flagging the token as stale, because the kubelet
        /// should have replaced it by then (bound tokens with an extended `exp` only).
        public var warnAfter: Int64?

        public init(namespace: String? = nil, pod: ObjectReference? = nil, node: ObjectReference? = nil,
                    serviceAccount: ObjectReference? = nil, secret: ObjectReference? = nil, warnAfter: Int64? = nil) {
            self.namespace = namespace
            self.pod = pod
            self.node = node
            self.serviceAccount = serviceAccount
            self.secret = secret
            self.warnAfter = warnAfter
        }
    }

    /// An object a token is bound to, by name and uid.
    public struct ObjectReference: Sendable, Equatable {
        public var name: String?
        public var uid: String?

        public init(name: String?, uid: String?) {
            self.name = name
            self.uid = uid
        }
    }

    /// `exp - iat`: how long the issuer meant the token to live; nil without both.
    public var lifetimeSeconds: Int64? {
        guard let issuedAt, let expiresAt else { return nil }
        return expiresAt - issuedAt
    }

    /// The namespace the token is for: the `kubernetes.io` claim, else the one in `sub`.
    public var namespace: String? {
        if let namespace = kubernetes.namespace { return namespace }
        guard let subject, subject.hasPrefix("system:serviceaccount:") else { return nil }
        let parts = subject.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 4 ? String(parts[2]) : nil
    }

    /// The legacy token controller's issuer (`serviceaccount.LegacyIssuer`).
    public static let legacyIssuer = "kubernetes/serviceaccount"

    /// Reads the claims of `token` (the file's bytes; surrounding whitespace is ignored, as client-go
    /// trims it). Never fails by crashing, whatever the bytes.
    public static func decode(_ token: [UInt8]) -> Result<JWTClaims, JWTDecodingError> {
        var bytes = token[...]
        while let last = bytes.last, isSpace(last) { bytes.removeLast() }
        while let first = bytes.first, isSpace(first) { bytes.removeFirst() }
        guard !bytes.isEmpty else { return .failure(.empty) }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .failure(.notThreeParts(count: parts.count)) }

        guard let headerBytes = decodeBase64URL(parts[0]) else { return .failure(.notBase64URL(part: .header)) }
        guard let payloadBytes = decodeBase64URL(parts[1]) else { return .failure(.notBase64URL(part: .payload)) }
        let header: ClaimsJSON
        let payload: ClaimsJSON
        switch ClaimsJSON.parse(headerBytes) {
        case .success(let value): header = value
        case .failure(let error): return .failure(.notJSON(part: .header, offset: error.offset))
        }
        switch ClaimsJSON.parse(payloadBytes) {
        case .success(let value): payload = value
        case .failure(let error): return .failure(.notJSON(part: .payload, offset: error.offset))
        }
        guard case .object = header else { return .failure(.notAnObject(part: .header)) }
        guard case .object = payload else { return .failure(.notAnObject(part: .payload)) }

        var claims = JWTClaims(audiences: [], kubernetes: KubernetesClaims(), isLegacy: false)
        do throws(JWTDecodingError) {
            claims.algorithm = try header.string("alg")
            claims.keyID = try header.string("kid")
            claims.subject = try payload.string("sub")
            claims.issuer = try payload.string("iss")
            switch payload["aud"] {
            case nil, .null?: claims.audiences = []
            case .string(let one)?: claims.audiences = [one]
            case .array(let many)?:
                claims.audiences = try many.map { item throws(JWTDecodingError) in
                    guard case .string(let text) = item else { throw .wrongType(claim: "aud", expected: "a string or a list of strings") }
                    return text
                }
            default: throw .wrongType(claim: "aud", expected: "a string or a list of strings")
            }
            claims.issuedAt = try payload.seconds("iat")
            claims.notBefore = try payload.seconds("nbf")
            claims.expiresAt = try payload.seconds("exp")

            if let bound = payload["kubernetes.io"], bound != .null {
                guard case .object = bound else { throw .wrongType(claim: "kubernetes.io", expected: "an object") }
                claims.kubernetes = KubernetesClaims(
                    namespace: try bound.string("namespace", claim: "kubernetes.io.namespace"),
                    pod: try bound.reference("pod"), node: try bound.reference("node"),
                    serviceAccount: try bound.reference("serviceaccount"), secret: try bound.reference("secret"),
                    warnAfter: try bound.seconds("warnafter", claim: "kubernetes.io.warnafter"))
            }
            // pkg/serviceaccount/legacy.go: the claims of a Secret-based token.
            let legacyNamespace = try payload.string("kubernetes.io/serviceaccount/namespace")
            let legacyAccount = try payload.string("kubernetes.io/serviceaccount/service-account.name")
            let legacyAccountUID = try payload.string("kubernetes.io/serviceaccount/service-account.uid")
            let legacySecret = try payload.string("kubernetes.io/serviceaccount/secret.name")
            claims.isLegacy = claims.issuer == legacyIssuer || legacyNamespace != nil || legacySecret != nil
            if claims.kubernetes.namespace == nil { claims.kubernetes.namespace = legacyNamespace }
            if claims.kubernetes.serviceAccount == nil, legacyAccount != nil || legacyAccountUID != nil {
                claims.kubernetes.serviceAccount = ObjectReference(name: legacyAccount, uid: legacyAccountUID)
            }
            if claims.kubernetes.secret == nil, let legacySecret {
                claims.kubernetes.secret = ObjectReference(name: legacySecret, uid: nil)
            }
        } catch {
            return .failure(error)
        }
        return .success(claims)
    }

    init(audiences: [String], kubernetes: KubernetesClaims, isLegacy: Bool) {
        self.audiences = audiences
        self.kubernetes = kubernetes
        self.isLegacy = isLegacy
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    /// JWTs use unpadded base64url (RFC 7515 §2); padding is tolerated because some hand-made tokens
    /// carry it.
    private static func decodeBase64URL(_ part: ArraySlice<UInt8>) -> [UInt8]? {
        var body = part
        while body.last == UInt8(ascii: "=") { body.removeLast() }
        guard !body.isEmpty else { return nil }
        return Base64.decodeURL(body)
    }
}

/// Why a token's claims could not be read. The description names the token's part and an offset,
/// never its content: a malformed token may still be a credential.
public enum JWTDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A JWT has three parts: header, payload, signature.
    public enum Part: String, Sendable, Equatable {
        case header, payload
    }

    case empty
    case notThreeParts(count: Int)
    case notBase64URL(part: Part)
    /// `offset` is the byte of the decoded part where the JSON stops making sense.
    case notJSON(part: Part, offset: Int)
    case notAnObject(part: Part)
    case wrongType(claim: String, expected: String)

    public var description: String {
        switch self {
        case .empty:
            return "the token file is empty"
        case .notThreeParts(let count):
            return "it is not a JWT: it has \(count) dot-separated part\(count == 1 ? "" : "s"), a JWT has 3"
        case .notBase64URL(let part):
            return "its \(part.rawValue) is not base64url"
        case .notJSON(let part, let offset):
            return "its \(part.rawValue) is not valid JSON (at byte \(offset) of the decoded \(part.rawValue))"
        case .notAnObject(let part):
            return "its \(part.rawValue) is JSON but not an object"
        case .wrongType(let claim, let expected):
            return "its claim \(claim) is not \(expected)"
        }
    }
}

// MARK: - A JSON reader for claims

/// The JSON tree of a JWT header or payload: just enough JSON (RFC 8259) to read claims, without
/// Foundation. Numbers keep their text, since claims only ever need them as whole seconds.
enum ClaimsJSON: Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([ClaimsJSON])
    case object([(key: String, value: ClaimsJSON)])

    static func == (lhs: ClaimsJSON, rhs: ClaimsJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The member `key` of an object (the last one, as Go's encoding/json keeps for duplicates).
    subscript(key: String) -> ClaimsJSON? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    func string(_ key: String, claim: String? = nil) throws(JWTDecodingError) -> String? {
        switch self[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        default: throw .wrongType(claim: claim ?? key, expected: "a string")
        }
    }

    /// A NumericDate (RFC 7519 §2): seconds, possibly fractional, rounded down.
    func seconds(_ key: String, claim: String? = nil) throws(JWTDecodingError) -> Int64? {
        switch self[key] {
        case nil, .null?: return nil
        case .number(let text)?:
            if let whole = Int64(text) { return whole }
            let value = strtod(text, nil)
            guard value.isFinite, value > -9.2e18, value < 9.2e18 else {
                throw .wrongType(claim: claim ?? key, expected: "a time in Unix seconds")
            }
            return Int64(value.rounded(.down))
        default: throw .wrongType(claim: claim ?? key, expected: "a time in Unix seconds")
        }
    }

    func reference(_ key: String) throws(JWTDecodingError) -> JWTClaims.ObjectReference? {
        switch self[key] {
        case nil, .null?: return nil
        case let member? where member.isObject:
            return JWTClaims.ObjectReference(
                name: try member.string("name", claim: "kubernetes.io.\(key).name"),
                uid: try member.string("uid", claim: "kubernetes.io.\(key).uid"))
        default: throw .wrongType(claim: "kubernetes.io.\(key)", expected: "an object")
        }
    }

    var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    /// Where a header or payload stops being JSON: a byte offset, never the bytes.
    struct SyntaxError: Error {
        var offset: Int
    }

    /// Parses one JSON value filling all of `bytes` (whitespace around it allowed); on failure, the
    /// offset where parsing stopped.
    static func parse(_ bytes: [UInt8]) -> Result<ClaimsJSON, SyntaxError> {
        var reader = Reader(bytes: bytes)
        guard let value = reader.value(depth: 0) else { return .failure(SyntaxError(offset: reader.position)) }
        reader.skipSpace()
        guard reader.position == bytes.count else { return .failure(SyntaxError(offset: reader.position)) }
        return .success(value)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        /// Deeper nesting than any claim set needs is refused, so a hostile token cannot exhaust the stack.
        static let maximumDepth = 32

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func value(depth: Int) -> ClaimsJSON? {
            guard depth <= Self.maximumDepth else { return nil }
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [(key: String, value: ClaimsJSON)] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard consume(":"), let member = value(depth: depth + 1) else { return nil }
                    members.append((key, member))
                    skipSpace()
                    if consume(",") { continue }
                    guard consume("}") else { return nil }
                    return .object(members)
                }
            case UInt8(ascii: "["):
                position += 1
                var items: [ClaimsJSON] = []
                skipSpace()
                if consume("]") { return .array(items) }
                while true {
                    guard let item = value(depth: depth + 1) else { return nil }
                    items.append(item)
                    skipSpace()
                    if consume(",") { continue }
                    guard consume("]") else { return nil }
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return string().map(ClaimsJSON.string)
            case UInt8(ascii: "t"):
                return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"):
                return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"):
                return literal("null") ? .null : nil
            default:
                return number()
            }
        }

        mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: scalar) else { return false }
            position += 1
            return true
        }

        mutating func literal(_ word: String) -> Bool {
            let utf8 = Array(word.utf8)
            guard bytes.count - position >= utf8.count, Array(bytes[position..<(position + utf8.count)]) == utf8 else { return false }
            position += utf8.count
            return true
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() -> ClaimsJSON? {
            let start = position
            func digits() -> Int {
                let from = position
                while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
                return position - from
            }
            _ = consume("-")
            guard position < bytes.count else { return nil }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
            } else if digits() == 0 {
                return nil
            }
            if consume("."), digits() == 0 { return nil }
            if consume("e") || consume("E") {
                if !consume("+") { _ = consume("-") }
                if digits() == 0 { return nil }
            }
            return .number(String(decoding: bytes[start..<position], as: UTF8.self))
        }

        /// A JSON string; invalid UTF-8 and lone surrogates become U+FFFD rather than failing, since a
        /// claim is shown, never trusted.
        mutating func string() -> String? {
            guard consume("\"") else { return nil }
            var out: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return nil }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let unit = hex4() else { return nil }
                        var scalarValue = UInt32(unit)
                        if (0xD800..<0xDC00).contains(unit), bytes.count - position >= 6,
                           bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") {
                            let mark = position
                            position += 2
                            if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                            } else {
                                position = mark
                                scalarValue = 0xFFFD
                            }
                        }
                        let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
                        out.append(contentsOf: String(Character(scalar)).utf8)
                    default:
                        return nil
                    }
                case 0x00..<0x20:
                    return nil
                default:
                    out.append(byte)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt16? {
            guard bytes.count - position >= 4 else { return nil }
            var value: UInt16 = 0
            for byte in bytes[position..<(position + 4)] {
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: return nil
                }
                value = value << 4 | UInt16(digit)
            }
            position += 4
            return value
        }
    }
}
