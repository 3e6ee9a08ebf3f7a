import Foundation
import Glibc
import Testing
@testable import PodAgentKit

/// A pod with a secret in every place `inspect` looks: a secret volume, a projected volume with a
/// secret source, the service-account token, env vars with secret-looking names (one from a
/// secretKeyRef), and a secret volume file whose name does not look secret.
private let canaryPod = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: canary
      namespace: vault
      labels: {app: canary}
    spec:
      containers:
        - name: app
          image: busybox
          env:
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: canary-secret, key: password}}
            - name: API_TOKEN
              value: "canary-env-token-7f3a9c2e51"
            - name: AWS_SECRET_ACCESS_KEY
              value: "canary-aws-key-e8d1b4c7a2"
          volumeMounts:
            - {name: creds, mountPath: /etc/creds}
            - {name: bundle, mountPath: /etc/bundle}
            - {name: podinfo, mountPath: /etc/podinfo}
      volumes:
        - name: creds
          secret: {secretName: canary-secret}
        - name: bundle
          projected:
            sources:
              - secret: {name: canary-secret, items: [{key: settings.ini, path: app/settings.ini}]}
              - configMap: {name: canary-config}
        - name: podinfo
          downwardAPI:
            items:
              - {path: labels, fieldRef: {fieldPath: metadata.labels}}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: canary-secret, namespace: vault}
    stringData:
      password: "canary-db-password-4b9e1f"
      settings.ini: "api_key = canary-ini-value-c0ffee42"
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: canary-config, namespace: vault}
    data:
      public.txt: "nothing secret here"
    """

private let plantedSecrets = [
    "canary-db-password-4b9e1f", "canary-env-token-7f3a9c2e51", "canary-aws-key-e8d1b4c7a2", "canary-ini-value-c0ffee42",
]

@Suite("podagent inspect, end to end")
struct InspectEndToEndTests {
    private func simulated() throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory()
        _ = dir.write("pod.yaml", canaryPod)
        _ = try PodSimulator.run(SimulationOptions(podFile: dir.file("pod.yaml"), root: dir.file("root")))
        return (dir, dir.file("root"))
    }

    /// Runs `podagent inspect` with the container's env as `simulate` resolved it.
    private func inspect(_ root: String, _ arguments: [String], in dir: TemporaryDirectory) async -> ProcessOutput {
        let script = "set -a; . \"$0\"; set +a; exec \"$@\""
        // --offline unless a test points --api-server somewhere: the simulated env names 10.96.0.1.
        let network = arguments.contains("--api-server") ? [] : ["--offline"]
        return await runProcess(["/bin/sh", "-c", script, root + "/.podagent/env", podagentBinary, "inspect", "--root", root]
                          + network + arguments, directory: dir)
    }

    @Test("no secret leaves through text, JSON or YAML: volume contents, the token, secret-looking env values")
    func canary() async throws {
        let (dir, root) = try simulated()
        defer { dir.remove() }
        let token = try #require(readText(root + "/var/run/secrets/kubernetes.io/serviceaccount/token"))
        let signature = String(token.split(separator: ".").last ?? "")
        let pieces = plantedSecrets + [token, String(token.prefix(24)), String(signature.prefix(16))].filter { $0.count >= 10 }
        for format in ["text", "json", "yaml"] {
            let result = await inspect(root, ["-o", format, "--color", "always"], in: dir)
            #expect(result.status == 0, "\(format): \(result.stderr)")
            let everything = String(decoding: result.stdout, as: UTF8.self) + result.stderr
            #expect(everything.contains("canary"), "\(format): the report is missing (\(result.stderr))")
            for secret in pieces {
                #expect(!everything.contains(secret), "\(format) output contains a planted secret")
            }
            // Digests of secret content are withheld too.
            for value in plantedSecrets {
                let sum = await runProcess(["/bin/sh", "-c", "printf %s \"$0\" | sha256sum", value], directory: dir)
                let digest = String(decoding: sum.stdout.prefix(64), as: UTF8.self)
                #expect(digest.count == 64)
                #expect(!everything.contains(String(digest.prefix(12))), "\(format) output contains a secret's digest")
            }
        }
    }

    @Test("-o json is one object with every section, in the documented keys")
    func jsonSchema() async throws {
        let (dir, root) = try simulated()
        defer { dir.remove() }
        let result = await inspect(root, ["-o", "json"], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
        #expect(Set(object.keys) == ["identity", "labels", "annotations", "resources", "volumes", "serviceAccount",
                                     "processes", "securityContext", "environment", "warnings"])
        #expect((object["identity"] as? [String: Any])?["name"] as? String == "canary")
        let volumes = try #require(object["volumes"] as? [[String: Any]])
        let byMount = Dictionary(uniqueKeysWithValues: volumes.compactMap { v in (v["mountPoint"] as? String).map { ($0, v) } })
        #expect(byMount["/etc/creds"]?["kind"] as? String == "secret")
        #expect(byMount["/etc/creds"]?["medium"] as? String == "tmpfs")
        // A projected volume is tmpfs like a secret, and inside the pod nothing tells them apart: the
        // safe reading is "secret", content withheld.
        #expect(byMount["/etc/bundle"]?["kindFrom"] as? String == "content")
        #expect(byMount["/etc/bundle"]?["contentWithheld"] as? Bool == true)
        let environment = try #require(object["environment"] as? [String: Any])
        #expect((environment["DB_PASSWORD"] as? [String: Any])?["withheld"] as? Bool == true)
        #expect(environment["POD_NAME"] as? String == "canary")
    }

    @Test("-o yaml parses back to the same tree as -o json")
    func yamlMatchesJSON() async throws {
        let (dir, root) = try simulated()
        defer { dir.remove() }
        let json = await inspect(root, ["-o", "json"], in: dir)
        let yaml = await inspect(root, ["-o", "yaml"], in: dir)
        #expect(json.status == 0 && yaml.status == 0)
        _ = dir.write("report.json", String(decoding: json.stdout, as: UTF8.self))
        _ = dir.write("report.yaml", String(decoding: yaml.stdout, as: UTF8.self))
        // PyYAML (YAML 1.1) reads it as it would any manifest; ages may tick between the two runs.
        let compare = """
            import json, sys, yaml
            def strip(v):
                if isinstance(v, dict): return {k: strip(x) for k, x in v.items() if k not in ("ageSeconds", "expiresInSeconds")}
                if isinstance(v, list): return [strip(x) for x in v]
                return v
            j = strip(json.load(open(sys.argv[1]))); y = strip(yaml.safe_load(open(sys.argv[2])))
            sys.exit(0 if j == y else 1)
            """
        let result = await runProcess(["/bin/sh", "-c", "exec python3 -c \"$0\" \"$1\" \"$2\"", compare, dir.file("report.json"), dir.file("report.yaml")],
                                directory: dir, environment: currentProcessEnvironment())
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test("a subPath mount is reported as never updating")
    func subPathWarning() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        _ = dir.write("pod.yaml", canaryPod.replacingOccurrences(
            of: "- {name: podinfo, mountPath: /etc/podinfo}",
            with: "- {name: podinfo, mountPath: /etc/podinfo}\n        - {name: bundle, mountPath: /etc/public.txt, subPath: public.txt}"))
        _ = try PodSimulator.run(SimulationOptions(podFile: dir.file("pod.yaml"), root: dir.file("root")))
        let result = await inspect(dir.file("root"), ["--color", "never"], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(String(decoding: result.stdout, as: UTF8.self).contains("/etc/public.txt is a subPath mount: the kubelet never updates it"))
    }

    @Test("with an API server: its section is there, the token goes in the header, and no output shows it")
    func apiServerCanary() async throws {
        let (dir, root) = try simulated()
        defer { dir.remove() }
        let ca = try await PipeTestCA("inspect-cli")
        defer { ca.directory.remove() }
        let server = try await PipeHTTPServer.start(
            PipeServerScript(byPath: ["/version": PipeAnswer(status: 200, body: #"{"gitVersion":"v1.31.2","platform":"linux/amd64"}"#)]),
            tls: try ca.serverContext())
        defer { Task { await server.stop() } }
        _ = dir.write("root/etc/test-ca.crt", readText(ca.caFile) ?? "")
        let token = try #require(readText(root + "/var/run/secrets/kubernetes.io/serviceaccount/token"))
        let result = await inspect(root, ["-o", "json", "--api-server", server.url, "--ca-file", "/etc/test-ca.crt"], in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
        let api = try #require(object["apiServer"] as? [String: Any])
        #expect((api["version"] as? [String: Any])?["gitVersion"] as? String == "v1.31.2")
        #expect((api["tls"] as? [String: Any])?["verified"] as? Bool == true)
        #expect(server.requests.first?.header("Authorization") == "Bearer \(token)")
        let everything = String(decoding: result.stdout, as: UTF8.self) + result.stderr
        #expect(!everything.contains(String(token.prefix(24))))
    }
}

@Suite("podagent inspect --token-file")
struct InspectTokenFileTests {
    @Test("--token-file decodes that token (resolved inside --root) and still never shows it")
    func tokenFile() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let claims = #"{"aud":["api"],"exp":4102444800,"iat":1700000000,"iss":"https://issuer.example","sub":"system:serviceaccount:ns:robot","kubernetes.io":{"namespace":"ns","serviceaccount":{"name":"robot","uid":"u-1"}}}"#
        let token = Base64.encode(Array(#"{"alg":"RS256","kid":"k1"}"#.utf8), url: true) + "."
            + Base64.encode(Array(claims.utf8), url: true) + ".c2lnbmF0dXJlLWNhbmFyeS0xMjM0NTY"
        _ = dir.write("root/tokens/robot", token)
        let result = await runProcess([podagentBinary, "inspect", "--root", dir.file("root"), "--offline", "-o", "json",
                                       "--token-file", "/tokens/robot"], directory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let text = String(decoding: result.stdout, as: UTF8.self)
        #expect(text.contains("system:serviceaccount:ns:robot"))
        #expect(!text.contains("c2lnbmF0dXJlLWNhbmFyeS0xMjM0NTY") && !text.contains(String(token.prefix(20))))
    }
}

@Suite("podagent install")
struct InstallEndToEndTests {
    @Test("copies the running binary into a directory, executable, and the copy runs")
    func installs() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try FileSystem.makeDirectories(dir.file("shared"))
        let result = await runProcess([podagentBinary, "install", dir.file("shared")], directory: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(fileMode(dir.file("shared/podagent")) == 0o755)
        #expect(try FileSystem.readFile(dir.file("shared/podagent")) == (try FileSystem.readFile(podagentBinary)))
        let version = await runProcess([dir.file("shared/podagent"), "--version"], directory: dir)
        #expect(version.status == 0)
        let named = await runProcess([podagentBinary, "install", dir.file("shared"), "--name", "pa"], directory: dir)
        #expect(named.status == 0, "\(named.stderr)")
        #expect(fileMode(dir.file("shared/pa")) == 0o755)
        let missing = await runProcess([podagentBinary, "install", dir.file("nowhere")], directory: dir)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("is the emptyDir mounted there?"))
    }
}

@Suite("README")
struct ReadmeTests {
    @Test("the flag reference in the README is the binary's own --help")
    func flagReferenceMatchesHelp() async {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let result = await runProcess(["/bin/sh", "-c", "exec python3 \"$0\" --check --podagent \"$1\"",
                                 repositoryRoot + "/scripts/readme-flags.py", podagentBinary],
                                directory: dir, environment: currentProcessEnvironment())
        #expect(result.status == 0, "\(String(decoding: result.stdout, as: UTF8.self))\(result.stderr)")
    }
}
