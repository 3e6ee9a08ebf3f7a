// Specification of the security-context section of `podagent inspect`: `/proc/self/status` and the `/`
// line of `/proc/self/mountinfo`, copied from real containers (containerd's default capabilities as
// root; a restricted-profile container), decoded and turned into hardening hints.
import Testing

@testable import PodAgentKit

/// `/proc/self/status` of `sh` in a container run as root with containerd's default capabilities,
/// no `allowPrivilegeEscalation: false` and `seccompProfile: Unconfined`.
private let rootStatus = """
    Name:\tsh
    Umask:\t0022
    State:\tR (running)
    Tgid:\t7
    Ngid:\t0
    Pid:\t7
    PPid:\t0
    TracerPid:\t0
    Uid:\t0\t0\t0\t0
    Gid:\t0\t0\t0\t0
    FDSize:\t64
    Groups:\t0 1 2 3 4 6 10 11 20 26 27 
    NStgid:\t7
    NSpid:\t7
    NSpgid:\t7
    NSsid:\t7
    VmPeak:\t    1680 kB
    Threads:\t1
    SigQ:\t0/62598
    SigPnd:\t0000000000000000
    ShdPnd:\t0000000000000000
    SigBlk:\t0000000000000000
    SigIgn:\t0000000000000000
    SigCgt:\t0000000000014002
    CapInh:\t0000000000000000
    CapPrm:\t00000000a80425fb
    CapEff:\t00000000a80425fb
    CapBnd:\t00000000a80425fb
    CapAmb:\t0000000000000000
    NoNewPrivs:\t0
    Seccomp:\t0
    Seccomp_filters:\t0
    Speculation_Store_Bypass:\tthread vulnerable
    Cpus_allowed:\tf
    Cpus_allowed_list:\t0-3
    voluntary_ctxt_switches:\t3
    nonvoluntary_ctxt_switches:\t1

    """

/// The same container under the `restricted` Pod Security Standard: runAsUser 10001, fsGroup 2000,
/// capabilities drop ALL, allowPrivilegeEscalation false, seccomp RuntimeDefault.
private let hardenedStatus = """
    Name:\tpodagent
    Umask:\t0022
    State:\tS (sleeping)
    Pid:\t1
    PPid:\t0
    Uid:\t10001\t10001\t10001\t10001
    Gid:\t10001\t10001\t10001\t10001
    FDSize:\t64
    Groups:\t2000 
    CapInh:\t0000000000000000
    CapPrm:\t0000000000000000
    CapEff:\t0000000000000000
    CapBnd:\t0000000000000000
    CapAmb:\t0000000000000000
    NoNewPrivs:\t1
    Seccomp:\t2
    Seccomp_filters:\t1

    """

private func mountinfo(rootOptions: String) -> String {
    """
    1482 1375 0:153 / / \(rootOptions),relatime master:470 - overlay overlay rw,lowerdir=/var/lib/containerd/l/A:/var/lib/containerd/l/B,upperdir=/var/lib/containerd/s/9/fs,workdir=/var/lib/containerd/s/9/work
    1483 1482 0:156 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
    1498 1482 0:140 / /var/run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=512000k,inode64

    """
}

private func sandbox(status: String?, rootOptions: String? = "rw") -> TemporaryDirectory {
    let root = TemporaryDirectory("inspect-sec")
    if let status { root.write("proc/self/status", status) }
    if let rootOptions { root.write("proc/self/mountinfo", mountinfo(rootOptions: rootOptions)) }
    return root
}

private func inspect(status: String?, rootOptions: String? = "rw") -> InspectSection {
    let root = sandbox(status: status, rootOptions: rootOptions)
    defer { root.remove() }
    return SecurityContextInspection.inspect(paths: PodPaths(root: root.path))
}

@Suite("inspect: security context")
struct InspectSecurityContextTests {
    @Test("containerd's default capabilities are decoded to their names")
    func defaultCapabilities() throws {
        let section = inspect(status: rootStatus)
        let effective = try #require(section.value["capabilities"]?["effective"])
        #expect(effective["mask"] == .text("00000000a80425fb"))
        #expect(effective["names"] == .list([
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
            "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
        ].map(PodValue.text)))
        #expect(section.value["capabilities"]?["ambient"]?["names"] == .list([]))
    }

    @Test("bits 0–40 have names, higher bits print as cap_N")
    func capabilityNames() {
        #expect(Capability.names(in: 1 << 40) == ["CAP_CHECKPOINT_RESTORE"])
        #expect(Capability.names(in: 1 << 41 | 1) == ["CAP_CHOWN", "cap_41"])
    }

    @Test("uid, gid and supplementary groups are read")
    func identities() {
        let section = inspect(status: hardenedStatus)
        #expect(section.value["uid"]?["effective"] == .integer(10001))
        #expect(section.value["gid"]?["real"] == .integer(10001))
        #expect(section.value["groups"] == .list([.integer(2000)]))
    }

    @Test("a root container with default settings gets every hardening hint")
    func rootContainerHints() {
        let warnings = inspect(status: rootStatus).warnings
        #expect(warnings.count == 4)
        #expect(warnings.contains { $0.hasPrefix("running as root (uid 0)") })
        #expect(warnings.contains { $0.hasPrefix("no_new_privs is off") && $0.contains("allowPrivilegeEscalation: false") })
        #expect(warnings.contains { $0.hasPrefix("seccomp is disabled") && $0.contains("RuntimeDefault") })
        #expect(warnings.contains { $0.hasPrefix("the root filesystem is writable") && $0.contains("readOnlyRootFilesystem: true") })
    }

    @Test("a restricted container with a read-only root gets no hints")
    func hardenedContainer() {
        let section = inspect(status: hardenedStatus, rootOptions: "ro")
        #expect(section.warnings.isEmpty)
        #expect(section.value["noNewPrivs"] == .bool(true))
        #expect(section.value["seccomp"] == .object([.init("mode", .integer(2)), .init("name", .text("filter")), .init("filters", .integer(1))]))
        #expect(section.value["readOnlyRootFilesystem"] == .bool(true))
    }

    @Test("CAP_SYS_ADMIN, CAP_NET_ADMIN and CAP_SYS_PTRACE in CapEff are named in a warning")
    func powerfulCapabilities() {
        let status = hardenedStatus.replacingFirst("CapEff:\t0000000000000000", "CapEff:\t0000000000281000")
        let warnings = inspect(status: status, rootOptions: "ro").warnings
        #expect(warnings == [
            "effective capabilities include CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE — powerful enough to escape or disturb the node; "
                + "remove them from securityContext.capabilities.add unless the container really needs them"
        ])
    }

    @Test("every capability effective reads as privileged")
    func privileged() {
        let status = hardenedStatus.replacingFirst("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff")
        let warnings = inspect(status: status, rootOptions: "ro").warnings
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("every capability is effective — this looks like privileged: true") == true)
    }

    @Test("ro in the superblock options also makes the root read-only")
    func superblockReadOnly() {
        let info = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 ro,errors=remount-ro\n"
        #expect(SecurityContextInspection.rootMountIsReadOnly(mountinfo: info) == true)
    }

    @Test("the last mount on / is the one the process sees")
    func overmountedRoot() {
        let info = "1 0 0:1 / / ro - rootfs rootfs ro\n2 1 0:2 / / rw - overlay overlay rw\n"
        #expect(SecurityContextInspection.rootMountIsReadOnly(mountinfo: info) == false)
    }

    @Test("missing /proc files leave the values null and raise no hints")
    func missingFiles() {
        let section = inspect(status: nil, rootOptions: nil)
        #expect(section.warnings.isEmpty)
        #expect(section.value["uid"] == .null)
        #expect(section.value["readOnlyRootFilesystem"] == .null)
    }

    @Test("a token planted in the environment of the status file's process never appears")
    func noTokenLeak() {
        let planted = "eyJhbGciOiJSUzI1NiJ9.planted-token-4f1c.c2ln"
        // A status file has no secrets, but an odd process name could hold anything; it is not shown.
        let section = inspect(status: rootStatus.replacingFirst("Name:\tsh", "Name:\t\(planted)"))
        #expect(!showsAnyPiece(of: planted, in: everythingShown(section)))
    }
}

extension String {
    fileprivate func replacingFirst(_ target: String, _ replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
