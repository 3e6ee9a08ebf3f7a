/// The service-account pieces the kubelet and the API server's admission add to every pod that
/// automounts its token: the `kube-api-access-*` projected volume, a bound token, the cluster CA.
enum ServiceAccountProjection {
    static let mountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
    /// What the ServiceAccount admission plugin requests for the automatic volume; the API server then
    /// extends the JWT's own `exp` to a year (`--service-account-extend-token-expiration`, default on).
    static let automountExpirationSeconds: Int64 = 3607
    static let extendedExpirationSeconds: Int64 = 365 * 24 * 3600
    static let defaultAudience = "https://kubernetes.default.svc.cluster.local"
    static let issuer = "https://kubernetes.default.svc.cluster.local"

    /// The admission plugin's volume: token, `ca.crt` from the `kube-root-ca.crt` ConfigMap, `namespace`.
    static func volume(podName: String) -> Volume {
        let name = "kube-api-access-\(DeterministicName.suffix(DeterministicName.fnv1a64(podName.utf8)))"
        let sources: [ProjectionSource] = [
            .serviceAccountToken(audience: "", expirationSeconds: automountExpirationSeconds, path: "token"),
            .configMap(ObjectVolumeSource(name: "kube-root-ca.crt", items: [KeyToPath(key: "ca.crt", path: "ca.crt", mode: nil)],
                                          defaultMode: defaultVolumeMode, optional: false)),
            .downwardAPI(items: [DownwardAPIItem(path: "namespace",
                                                 fieldRef: ObjectFieldSelector(apiVersion: "v1", fieldPath: "metadata.namespace"),
                                                 resourceFieldRef: nil, mode: nil, fieldPath: "")]),
        ]
        return Volume(name: name, source: .projected(sources: sources, defaultMode: defaultVolumeMode), fieldPath: "(admission)")
    }

    /// A self-signed CA certificate made once for `simulate`. Its private key was thrown away: nothing can
    /// be signed with it, and its subject says it is not a real cluster. Used when no `kube-root-ca.crt`
    /// ConfigMap is given.
    static let simulatedCACertificate = """
        -----BEGIN CERTIFICATE-----
        MIICCTCCAa+gAwIBAgIUNljE+r7GLP0Sz0Qp7LFBCLLW6W4wCgYIKoZIzj0EAwIw
        UTEaMBgGA1UECgwRcG9kYWdlbnQgc2ltdWxhdGUxMzAxBgNVBAMMKnBvZGFnZW50
        LXNpbXVsYXRlZC1jYSAoTk9UIEEgUkVBTCBDTFVTVEVSKTAgFw0yNjExMjMxODQz
        NTJaGA8yMTI2MTAzMDE4NDM1MlowUTEaMBgGA1UECgwRcG9kYWdlbnQgc2ltdWxh
        dGUxMzAxBgNVBAMMKnBvZGFnZW50LXNpbXVsYXRlZC1jYSAoTk9UIEEgUkVBTCBD
        TFVTVEVSKTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABKnNHP6IAM04IGLX1jk8
        iNmdlSF2yrlmPebDLBFiWG+e88/briBAA0N6sNDx7ja7pIbZ1+Z/QZnYcMa8jPqf
        ugijYzBhMB0GA1UdDgQWBBROAcClfnQnyB/HqguPxd4vIIsUMjAfBgNVHSMEGDAW
        gBROAcClfnQnyB/HqguPxd4vIIsUMjAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB
        /wQEAwIBBjAKBggqhkjOPQQDAgNIADBFAiEAlRHFbo3cOu8xdxyiR84nkrQ+nF5W
        IN/t3tiDiKm9TBYCIF/Frq9GdUzH7LF6cSCygwzQl3cvjYe2SBrVeC56Xf+O
        -----END CERTIFICATE-----

        """
}

/// An unsigned JWT shaped like a bound service-account token (same claims as the API server's
/// TokenRequest), clearly marked: header `"alg":"none"`, key id `podagent-simulated-unsigned`, and an
/// empty signature. No API server accepts it.
struct SimulatedToken: Equatable {
    var audiences: [String]
    var issuedAt: Int64
    var requestedExpirationSeconds: Int64
    var namespace: String
    var podName: String
    var podUID: String
    var serviceAccountName: String
    var nodeName: String

    static let keyID = "podagent-simulated-unsigned"

    var expiresAt: Int64 {
        // The admission plugin's 3607 s marks the automatic volume, for which the API server extends `exp`.
        requestedExpirationSeconds == ServiceAccountProjection.automountExpirationSeconds
            ? issuedAt + ServiceAccountProjection.extendedExpirationSeconds
            : issuedAt + requestedExpirationSeconds
    }

    /// kubelet `pkg/kubelet/token/token_manager.go` requiresRefresh: refresh once 80 % of the requested TTL
    /// has passed (the kubelet adds up to 10 s of jitter; a simulation has no use for it).
    func needsRefresh(now: Int64) -> Bool {
        now >= issuedAt + requestedExpirationSeconds * 8 / 10
    }

    var encoded: String {
        let header = #"{"alg":"none","kid":"\#(Self.keyID)","typ":"JWT"}"#
        let jti = DeterministicName.uid("jti/\(podUID)/\(issuedAt)")
        let saUID = DeterministicName.uid("serviceaccount/\(namespace)/\(serviceAccountName)")
        let nodeUID = DeterministicName.uid("node/\(nodeName)")
        let aud = audiences.map(JSONText.string).joined(separator: ",")
        let claims = """
            {"aud":[\(aud)],"exp":\(expiresAt),"iat":\(issuedAt),"iss":\(JSONText.string(ServiceAccountProjection.issuer)),\
            "jti":\(JSONText.string(jti)),"kubernetes.io":{"namespace":\(JSONText.string(namespace)),\
            "node":{"name":\(JSONText.string(nodeName)),"uid":\(JSONText.string(nodeUID))},\
            "pod":{"name":\(JSONText.string(podName)),"uid":\(JSONText.string(podUID))},\
            "serviceaccount":{"name":\(JSONText.string(serviceAccountName)),"uid":\(JSONText.string(saUID))},\
            "warnafter":\(issuedAt + requestedExpirationSeconds)},"nbf":\(issuedAt),\
            "podagent.io/simulated":true,\
            "sub":\(JSONText.string("system:serviceaccount:\(namespace):\(serviceAccountName)"))}
            """
        return Base64.encode(header.utf8, url: true) + "." + Base64.encode(claims.utf8, url: true) + "."
    }

    /// Recovers the fields of a token this type encoded, to decide whether the kubelet would keep it.
    /// Read with the same JWT reader `inspect` uses; a token podagent did not make is never reused.
    static func decode(_ token: String, requestedExpirationSeconds: Int64) -> SimulatedToken? {
        guard case .success(let claims) = JWTClaims.decode(Array(token.utf8)), claims.keyID == keyID,
              let iat = claims.issuedAt, let ns = claims.kubernetes.namespace,
              let podName = claims.kubernetes.pod?.name, let uid = claims.kubernetes.pod?.uid,
              let sa = claims.kubernetes.serviceAccount?.name, let node = claims.kubernetes.node?.name,
              !claims.audiences.isEmpty else { return nil }
        return SimulatedToken(audiences: claims.audiences, issuedAt: iat, requestedExpirationSeconds: requestedExpirationSeconds,
                              namespace: ns, podName: podName, podUID: uid, serviceAccountName: sa, nodeName: node)
    }
}

/// JSON string encoding for the few documents podagent builds by hand: the JSON writer of
/// `podagent env --format json`, so there is one set of escaping rules.
enum JSONText {
    static func string(_ s: String) -> String {
        PodValue.text(s).json(.compact).text
    }
}
