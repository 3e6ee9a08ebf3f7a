import Glibc
import Testing
@testable import PodAgentKit

/// `podagent inspect`'s volumes section on a sandbox made by the real `PodSimulator`.
@Suite(.serialized) struct InspectVolumeSimulatedTests {
    static let pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: shop}
        spec:
          containers:
          - name: app
            volumeMounts:
            - {name: podinfo, mountPath: /etc/podinfo}
            - {name: config, mountPath: /etc/app}
            - {name: credentials, mountPath: /etc/credentials}
            - {name: config, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}
            - {name: bundle, mountPath: /etc/bundle}
            - {name: cache, mountPath: /cache}
          volumes:
          - name: podinfo
            downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
          - name: config
            configMap: {name: app-config}
          - name: credentials
            secret: {secretName: app-secret, defaultMode: 0400}
          - name: bundle
            projected:
              sources:
              - configMap: {name: app-config, items: [{key: greeting, path: greeting}]}
              - secret: {name: app-secret, items: [{key: password, path: db-password}]}
          - name: cache
            emptyDir: {}
        """
    static let objects = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: app-config, namespace: shop}
        data:
          greeting: hello
          nginx.conf: "worker_processes 2;"
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: app-secret, namespace: shop}
        stringData:
          password: planted-secret-value-7f3a
          settings.ini: planted-settings-value-91c2
        """

    /// Simulates the pod, inspects the sandbox, and hands both to `body`.
    func withSandbox(_ body: (TemporaryDirectory, [InspectedVolume], InspectSection) throws -> Void) throws {
        let dir = TemporaryDirectory("inspectvol"); defer { dir.remove() }
        var options = SimulationOptions(podFile: dir.write("in/pod.yaml", Self.pod), root: dir.file("root"))
        options.objectFiles = [dir.write("in/objects.yaml", Self.objects)]
        _ = try PodSimulator.run(options)
        let paths = PodPaths(root: dir.file("root"))
        let now = WallClock.now().seconds
        try body(dir, try VolumeInspection.volumes(paths: paths, now: now), try VolumeInspection.inspect(paths: paths, now: now))
    }

    func volume(_ volumes: [InspectedVolume], _ mountPoint: String) throws -> InspectedVolume {
        try #require(volumes.first { $0.mountPoint == mountPoint }, "no volume at \(mountPoint)")
    }

    @Test func everyMaterialisedVolumeIsFoundAndNothingElse() throws {
        try withSandbox { _, volumes, _ in
            #expect(volumes.map(\.mountPoint) == [
                "/etc/app", "/etc/bundle", "/etc/credentials", "/etc/nginx/nginx.conf", "/etc/podinfo",
                "/var/run/secrets/kubernetes.io/serviceaccount",
            ])
        }
    }

    @Test func configMapKindComesFromTheKubeletPathAndLivesOnDisk() throws {
        try withSandbox { _, volumes, _ in
            let config = try volume(volumes, "/etc/app")
            #expect(config.kind == .configMap)
            #expect(config.kindEvidence == .kubeletPath)
            #expect(config.name == "config")
            #expect(config.medium == .disk)
            #expect(config.readOnly, "the kubelet mounts API-data volumes read-only")
            #expect(config.files?.map(\.path) == ["greeting", "nginx.conf"])
        }
    }

    @Test func configMapFilesCarryTheirSHA256() throws {
        try withSandbox { _, volumes, _ in
            let config = try volume(volumes, "/etc/app")
            let greeting = try #require(config.files?.first { $0.path == "greeting" })
            #expect(greeting.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")  // sha256sum
            #expect(greeting.size == 5)
            #expect(greeting.mode == 0o644)
        }
    }

    @Test func tmpfsVolumesAreClassifiedFromTheirContent() throws {
        try withSandbox { _, volumes, _ in
            let secret = try volume(volumes, "/etc/credentials")
            #expect(secret.kind == .secret && secret.kindEvidence == .content && secret.medium == .tmpfs)
            let podinfo = try volume(volumes, "/etc/podinfo")
            #expect(podinfo.kind == .downwardAPI && podinfo.medium == .tmpfs)
            let account = try volume(volumes, "/var/run/secrets/kubernetes.io/serviceaccount")
            #expect(account.kind == .projected && account.serviceAccount && account.readOnly)
        }
    }

    @Test func secretFilesShowSizeAndModeButNoDigest() throws {
        try withSandbox { _, volumes, _ in
            let secret = try volume(volumes, "/etc/credentials")
            #expect(secret.contentWithheld)
            #expect(secret.files == [
                .init(path: "password", size: 25, mode: 0o400, sha256: nil),
                .init(path: "settings.ini", size: 27, mode: 0o400, sha256: nil),
            ])
        }
    }

    @Test func noSecretDigestOrValueAppearsAnywhereInTheSection() throws {
        try withSandbox { dir, _, section in
            let token = try #require(readText(dir.file("root/var/run/secrets/kubernetes.io/serviceaccount/token")))
            // settings.ini's name does not look secret: only the volume's kind protects it.
            let secrets = ["planted-secret-value-7f3a", "planted-settings-value-91c2", token]
            var forbidden = secrets
            for secret in secrets {
                let digest = VolumeInspection.sha256Hex(Array(secret.utf8))
                forbidden += [digest, String(digest.prefix(12))]
            }
            let report = InspectReport(sections: [section])
            let rendered = [report.text(colour: false), String(decoding: report.json().bytes, as: UTF8.self), report.yaml()]
                + section.rows.map { $0.label + " " + $0.value } + section.warnings
            for text in rendered {
                for secret in forbidden { #expect(!text.contains(secret), "leaked \(secret.prefix(16))…") }
            }
        }
    }

    @Test func noFileOfASecretOrProjectedVolumeHasADigestKey() throws {
        try withSandbox { _, _, section in
            guard case .list(let items) = section.value else { Issue.record("value is not a list"); return }
            for item in items where item["mountPoint"] != .text("/etc/app") {
                guard case .list(let files)? = item["files"] else { continue }
                for file in files { #expect(file["sha256"] == nil, "\(String(describing: item["mountPoint"]))") }
            }
        }
    }

    @Test func subPathMountGetsTheNeverUpdatesWarning() throws {
        try withSandbox { _, volumes, section in
            let nginx = try volume(volumes, "/etc/nginx/nginx.conf")
            #expect(nginx.subPath?.container == "app")
            #expect(nginx.subPath?.index == 3)
            #expect(nginx.name == "config")
            #expect(section.warnings.contains(
                "/etc/nginx/nginx.conf is a subPath mount: the kubelet never updates it; mount the whole volume (or a directory) instead"))
        }
    }

    @Test func aFreshSandboxHasNoOtherWarnings() throws {
        try withSandbox { _, _, section in
            #expect(section.warnings.count == 1, "\(section.warnings)")
        }
    }

    @Test func projectedVolumeWithASecretSourceIsWithheld() throws {
        try withSandbox { _, volumes, _ in
            let bundle = try volume(volumes, "/etc/bundle")
            #expect(bundle.contentWithheld)
            #expect(bundle.files?.map(\.path) == ["db-password", "greeting"])
            #expect(bundle.files?.allSatisfy { $0.sha256 == nil } == true)
        }
    }

    @Test func sectionRowsNestFilesUnderTheirVolume() throws {
        try withSandbox { _, _, section in
            #expect(section.key == "volumes" && section.title == "Volumes")
            let index = try #require(section.rows.firstIndex { $0.label == "/etc/app" })
            #expect(section.rows[index].value.hasPrefix("configMap \"config\" · disk (ext4) · ro · ..20"))
            #expect(section.rows[index + 1].label == "greeting" && section.rows[index + 1].indent == 1)
            #expect(section.rows[index + 1].value.hasPrefix("5 B  0644  sha256:2cf24dba5fb0"))
        }
    }
}

/// Volumes section on hand-made roots: crafted mountinfo lines from real nodes, volumes written by
/// the project's `AtomicWriter`.
@Suite struct InspectVolumeCraftedTests {
    static let uid = "6f1e2c3a-9b7d-4e0f-8a21-5c3d7e9f1b20"
    static let kubelet = "/var/lib/kubelet/pods/\(uid)"
    /// The runtime's mounts every container has; none is a volume.
    static let systemLines = """
        1337 1219 0:318 / / rw,relatime master:485 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
        1338 1337 0:321 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
        1339 1337 0:322 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
        1341 1339 0:317 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw
        1342 1337 0:324 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
        1343 1342 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot
        1344 1337 259:1 \(kubelet)/etc-hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p1 rw
        1345 1339 259:1 \(kubelet)/containers/app/6c1d09f7 /dev/termination-log rw,relatime - ext4 /dev/nvme0n1p1 rw
        1346 1337 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/0a1b/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p1 rw
        1347 1337 259:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/0a1b/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/nvme0n1p1 rw
        1348 1339 0:316 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,inode64
        1220 1338 0:321 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw
        1227 1338 0:322 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755,inode64
        1231 1342 0:326 / /sys/firmware ro,relatime - tmpfs tmpfs ro,inode64

        """

    /// A root holding `mountinfo` and whatever `setUp` writes; returns the inspected volumes.
    func inspect(_ lines: String, now: Int64 = 1_795_000_000, setUp: (TemporaryDirectory) throws -> Void = { _ in }) throws
        -> (volumes: [InspectedVolume], section: InspectSection)
    {
        let dir = TemporaryDirectory("inspectcraft"); defer { dir.remove() }
        dir.write("proc/self/mountinfo", Self.systemLines + lines)
        try setUp(dir)
        let paths = PodPaths(root: dir.path)
        return (try VolumeInspection.volumes(paths: paths, now: now), try VolumeInspection.inspect(paths: paths, now: now))
    }

    /// A volume written by the project's AtomicWriter with the kubelet clock pinned.
    func writeVolume(_ dir: TemporaryDirectory, _ mountPoint: String, _ files: [String: String],
                     stamp: GenerationStamp.Components = .init(year: 2026, month: 11, day: 18, hour: 11, minute: 0, second: 0)) throws {
        try FileSystem.makeDirectories(dir.file(mountPoint))
        let writer = AtomicWriter(targetDirectory: dir.file(mountPoint), clock: { stamp })
        try writer.write(files.mapValues { FileProjection(text: $0) })
    }

    @Test func theRuntimesOwnMountsAreNotVolumes() throws {
        let (volumes, section) = try inspect("")
        #expect(volumes.isEmpty)
        #expect(section.rows == [.init("(none)", "no volume mounts found in mountinfo")])
    }

    @Test func ageComesFromTheGenerationStamp() throws {
        let (volumes, _) = try inspect(
            "1350 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~configmap/app /etc/app ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in try writeVolume(dir, "etc/app", ["a": "1"]) }
        let generation = try #require(volumes.first?.generation)
        #expect(generation.name.hasPrefix("..2026_11_18_11_00_00."))
        #expect(generation.stampEpochSeconds == Int64(1_794_999_600))  // 2026-11-18T11:00:00Z
        #expect(generation.ageSeconds == 400)
        #expect(generation.modifiedEpochSeconds != nil)
    }

    @Test func anOldGenerationIsNotAProblem() throws {
        let (_, section) = try inspect(
            "1350 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~configmap/app /etc/app ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in try writeVolume(dir, "etc/app", ["a": "1"], stamp: .init(year: 2025, month: 1, day: 1, hour: 0, minute: 0, second: 0)) }
        #expect(section.warnings.isEmpty)
        #expect(section.rows.first?.value.contains("written 686d11h ago") == true, "\(section.rows)")
    }

    @Test func aDanglingDataLinkIsWarnedAbout() throws {
        let (volumes, section) = try inspect(
            "1350 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~configmap/app /etc/app ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in
            try FileSystem.makeDirectories(dir.file("etc/app"))
            symlink("..2026_11_18_10_00_00.1", dir.file("etc/app/..data"))
        }
        #expect(volumes.first?.generation?.name == "..2026_11_18_10_00_00.1")
        #expect(section.warnings.count == 1)
        #expect(section.warnings.first?.hasPrefix("/etc/app/..data points to ..2026_11_18_10_00_00.1, which does not exist") == true)
    }

    @Test func aKubeletVolumeWithoutDataLinkIsWarnedAbout() throws {
        let (_, section) = try inspect(
            "1350 1337 0:60 \(Self.kubelet)/volumes/kubernetes.io~secret/tls /etc/tls ro,relatime - tmpfs tmpfs rw\n"
        ) { dir in try FileSystem.makeDirectories(dir.file("etc/tls")) }
        #expect(section.warnings.first?.hasPrefix("/etc/tls is a secret volume without ..data") == true, "\(section.warnings)")
    }

    @Test func aSecretVolumeOnDiskIsUnusual() throws {
        let (volumes, section) = try inspect(
            "1350 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~secret/tls /etc/tls ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in try writeVolume(dir, "etc/tls", ["tls.key": "k"]) }
        #expect(volumes.first?.kind == .secret && volumes.first?.medium == .disk)
        #expect(volumes.first?.files?.first?.sha256 == nil)
        #expect(section.warnings.first?.hasPrefix("/etc/tls is a secret volume on ext4, not tmpfs") == true)
    }

    @Test func aSubPathIntoAGenerationIsDetectedFromTheRootAlone() throws {
        // What a real node shows for `subPath: nginx.conf` of a configMap volume.
        let (volumes, section) = try inspect(
            "1352 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~configmap/cfg/..2026_11_18_10_00_00.123/nginx.conf /etc/nginx/nginx.conf ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in dir.write("etc/nginx/nginx.conf", "worker_processes 2;") }
        let nginx = try #require(volumes.first)
        #expect(nginx.subPath != nil && nginx.kind == .configMap && nginx.name == "cfg")
        #expect(nginx.files?.first?.sha256 == "e9b027c643ca6e192295858f6a1a3122df4411a36f2fe39189c0a51bb40430a2")  // sha256sum
        #expect(section.warnings == [
            "/etc/nginx/nginx.conf is a subPath mount: the kubelet never updates it; mount the whole volume (or a directory) instead"])
    }

    @Test func aSubPathOfATmpfsVolumeIsDetectedAndWithheld() throws {
        let (volumes, _) = try inspect(
            "1353 1337 0:61 /..2026_11_18_10_00_00.9/tls.crt /etc/ssl/tls.crt ro,relatime - tmpfs tmpfs rw,size=4096k\n"
        ) { dir in dir.write("etc/ssl/tls.crt", "-----BEGIN CERTIFICATE-----") }
        let crt = try #require(volumes.first)
        #expect(crt.subPath?.source == "/..2026_11_18_10_00_00.9/tls.crt")
        #expect(crt.contentWithheld && crt.files?.first?.sha256 == nil)
        #expect(crt.files?.first?.size == 27)
    }

    @Test func aSubPathWhoseGenerationWasRemovedIsStale() throws {
        let (volumes, section) = try inspect(
            "1352 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~configmap/cfg/..2026_11_18_10_00_00.123/nginx.conf//deleted /etc/nginx/nginx.conf ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in dir.write("etc/nginx/nginx.conf", "old") }
        #expect(volumes.first?.subPath?.sourceDeleted == true)
        #expect(section.warnings.count == 2)
        #expect(section.warnings.last?.contains("the container sees stale content until it restarts") == true)
    }

    @Test func aCSIVolumeIsWholeButDeeperIsASubPath() throws {
        let csi = "\(Self.kubelet)/volumes/kubernetes.io~csi/pvc-0c1f"
        let (volumes, _) = try inspect("""
            1360 1337 259:3 \(csi)/mount /data rw,relatime - ext4 /dev/nvme1n1 rw
            1361 1337 259:3 \(csi)/mount/logs /logs rw,relatime - ext4 /dev/nvme1n1 rw

            """) { dir in
            try FileSystem.makeDirectories(dir.file("data"))
            try FileSystem.makeDirectories(dir.file("logs"))
        }
        #expect(volumes.map(\.mountPoint) == ["/data", "/logs"])
        #expect(volumes[0].plugin == "kubernetes.io/csi" && volumes[0].subPath == nil && volumes[0].files == nil)
        #expect(volumes[1].subPath != nil)
    }

    @Test func aMemoryEmptyDirOnDevShmIsAVolume() throws {
        // A later mount on /dev/shm from source "tmpfs" (not the runtime's "shm") hides the runtime's.
        let (volumes, _) = try inspect("1362 1339 0:70 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=1048576k\n") { dir in
            try FileSystem.makeDirectories(dir.file("dev/shm"))
        }
        #expect(volumes.map(\.mountPoint) == ["/dev/shm"])
        #expect(volumes.first?.kind == .emptyDir && volumes.first?.medium == .tmpfs && volumes.first?.readOnly == false)
    }

    @Test func aMountPointWithASpaceIsResolvedInsideTheRoot() throws {
        let (volumes, _) = try inspect(
            "1363 1337 259:1 \(Self.kubelet)/volumes/kubernetes.io~configmap/cfg /etc/my\\040app ro,relatime - ext4 /dev/nvme0n1p1 rw\n"
        ) { dir in try writeVolume(dir, "etc/my app", ["k": "v"]) }
        #expect(volumes.first?.mountPoint == "/etc/my app")
        #expect(volumes.first?.files?.map(\.path) == ["k"])
    }

    @Test func aMissingMountInfoGivesAWarningNotAFailure() throws {
        let dir = TemporaryDirectory("inspectnone"); defer { dir.remove() }
        let section = try VolumeInspection.inspect(paths: PodPaths(root: dir.path), now: 0)
        #expect(section.value == .null)
        #expect(section.warnings.first?.contains("proc/self/mountinfo does not exist") == true)
    }

    @Test func aMalformedMountInfoFails() throws {
        let dir = TemporaryDirectory("inspectbad"); defer { dir.remove() }
        dir.write("proc/self/mountinfo", "1 0 8:1 / /\n")
        #expect(throws: MountInfoError.self) { try VolumeInspection.inspect(paths: PodPaths(root: dir.path), now: 0) }
    }
}
