import Glibc
import Testing
@testable import PodAgentKit

/// manifests/ is what platform teams copy into their clusters, so the README's test command proves it:
/// `scripts/check-manifests.sh` validates every object strictly against the Kubernetes schemas
/// (kubernetes-validate, offline) and runs every podagent container's command against what
/// `podagent simulate` makes of its pod. The script does the work; this test makes it part of the suite.
@Suite struct ManifestExamplesTests {
    @Test(.enabled("kubernetes-validate could not be installed (`scripts/check-manifests.sh --install-only` failed)") {
        await ManifestCheck.availability.value
    })
    func everyManifestPassesTheSchemasAndPodagentItself() async {
        let dir = TemporaryDirectory("check-manifests")
        defer { dir.remove() }
        let result = await runProcess(["/bin/bash", repositoryRoot + "/scripts/check-manifests.sh"],
                                directory: dir, environment: ManifestCheck.environment)
        let report = String(decoding: result.stdout, as: UTF8.self)
        #expect(result.status == 0, "scripts/check-manifests.sh failed:\n\(report)\n\(result.stderr)")
        #expect(report.contains(" 0 failed"), "no summary line:\n\(report)")
    }
}

enum ManifestCheck {
    /// The script's environment: this process's (PATH for python3, HOME for the venv's cache), with
    /// the binary under test.
    static var environment: [String] {
        currentProcessEnvironment().filter { !$0.hasPrefix("PODAGENT=") } + ["PODAGENT=\(podagentBinary)"]
    }

    /// Whether kubernetes-validate is installed, after installing it (PyPI, into the script's venv);
    /// awaited, so no test thread blocks on pip.
    static let availability = Task<Bool, Never> {
        let dir = TemporaryDirectory("check-manifests-install")
        defer { dir.remove() }
        let install = await runProcess(["/bin/bash", repositoryRoot + "/scripts/check-manifests.sh", "--install-only"],
                                 directory: dir, environment: environment)
        if install.status != 0 {
            print("manifest checks skipped: kubernetes-validate could not be installed: \(install.stderr)")
        }
        return install.status == 0
    }
}
