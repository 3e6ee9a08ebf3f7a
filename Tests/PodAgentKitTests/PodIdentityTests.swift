// Specification of the pod's identity: the conventional env var names, and the service
// account's namespace file as the namespace fallback.
import Testing

@testable import PodAgentKit

@Suite("PodView: identity")
struct PodIdentityTests {
    @Test("every identity field comes from its env var; POD_IPS is split on commas")
    func fromEnvironment() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let identity = try pod.load([
            "POD_NAME": "web-0", "POD_NAMESPACE": "shop", "POD_UID": "6e3d-11", "POD_IP": "10.0.0.5",
            "POD_IPS": "10.0.0.5,fd00::5", "NODE_NAME": "node-1", "HOST_IP": "192.168.1.2", "SERVICE_ACCOUNT": "web-sa",
        ]).identity
        #expect(
            identity
                == PodIdentity(
                    name: "web-0", namespace: "shop", uid: "6e3d-11", ip: "10.0.0.5", ips: ["10.0.0.5", "fd00::5"],
                    node: "node-1", hostIP: "192.168.1.2", serviceAccount: "web-sa", namespaceSource: .environment))
    }

    @Test("without POD_NAMESPACE, the service account's namespace file is used and recorded")
    func serviceAccountFallback() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"
        try FileSystem.makeDirectories(FileSystem.join(pod.directory.path, serviceAccount))
        try AtomicWriter(targetDirectory: FileSystem.join(pod.directory.path, serviceAccount))
            .write(["namespace": FileProjection(text: "payments"), "token": FileProjection(text: "x.y.z")])
        let identity = try pod.load().identity
        #expect(identity.namespace == "payments")
        #expect(identity.namespaceSource == .serviceAccountFile(pod.paths.serviceAccountNamespacePath))
    }

    @Test("POD_NAMESPACE wins over the service account's namespace file")
    func environmentWins() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        pod.file("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "payments")
        let identity = try pod.load(["POD_NAMESPACE": "shop"]).identity
        #expect(identity.namespace == "shop")
        #expect(identity.namespaceSource == .environment)
    }

    @Test("no env vars and no service account: every field is unknown")
    func nothingKnown() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        #expect(try pod.load().identity == PodIdentity())
    }

    @Test("an empty env var is unknown, and ips is not derived from POD_IP")
    func emptyIsUnknown() throws {
        let pod = PodSandbox()
        defer { pod.remove() }
        let identity = try pod.load(["POD_NAME": "", "POD_IP": "10.0.0.5"]).identity
        #expect(identity.name == nil)
        #expect(identity.ips == nil)
    }
}
