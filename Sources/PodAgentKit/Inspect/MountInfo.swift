// The kernel's `/proc/<pid>/mountinfo` (proc(5), Documentation/filesystems/proc.rst §3.5):
//
//     36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//     (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
//
// (1) mount ID, (2) parent ID, (3) major:minor of st_dev, (4) root: the path *inside the mounted
// filesystem* that is visible here (a bind mount shows its source path; an unlinked source ends in
// `//deleted`), (5) mount point, (6) per-mount options, (7) zero or more optional fields
// (`shared:N`, `master:N`, `propagate_from:N`, `unbindable`), (8) `-`, (9) filesystem type,
// (10) source, (11) super-block options.
//
// The kernel escapes space, tab, newline and backslash in (4), (5), (10) and (11) as three-digit
// octal (`\040`, `\011`, `\012`, `\134`); fields are separated by exactly one space.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One mount as the kernel lists it in `/proc/self/mountinfo`, escapes decoded.
public struct MountEntry: Sendable, Equatable {
    public var mountID: Int
    public var parentID: Int
    public var major: UInt32
    public var minor: UInt32
    /// The path inside the mounted filesystem shown at `mountPoint`: `/` for a whole filesystem, the
    /// source path for a bind mount (e.g. `/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~configmap/app`).
    public var root: String
    /// Where it is mounted, as the process sees it (a pod path such as `/etc/podinfo`).
    public var mountPoint: String
    /// Per-mount options (`ro`, `nosuid`, `relatime`, …).
    public var mountOptions: [String]
    /// Propagation tags between the mount options and the `-` separator (`shared:3`, `master:417`).
    public var optionalFields: [String]
    /// `ext4`, `tmpfs`, `overlay`, `proc`, …
    public var filesystemType: String
    /// The filesystem's source (`/dev/sda1`, `tmpfs`, `overlay`, `server:/export`).
    public var source: String
    /// Options of the filesystem itself (`rw,size=65536k,inode64`).
    public var superOptions: [String]

    public init(
        mountID: Int, parentID: Int, major: UInt32, minor: UInt32, root: String, mountPoint: String,
        mountOptions: [String], optionalFields: [String] = [], filesystemType: String, source: String,
        superOptions: [String]
    ) {
        self.mountID = mountID
        self.parentID = parentID
        self.major = major
        self.minor = minor
        self.root = root
        self.mountPoint = mountPoint
        self.mountOptions = mountOptions
        self.optionalFields = optionalFields
        self.filesystemType = filesystemType
        self.source = source
        self.superOptions = superOptions
    }

    /// Read-only for this process: the per-mount `ro` (a bind mount made read-only) — what a
    /// `readOnly: true` volumeMount, and the kubelet's forced read-only API-data volumes, produce.
    public var isReadOnly: Bool { mountOptions.contains("ro") }

    /// The line as the kernel writes it, with its escapes.
    public var line: String {
        var fields = [
            String(mountID), String(parentID), "\(major):\(minor)", MountTable.escape(root), MountTable.escape(mountPoint),
            mountOptions.joined(separator: ","),
        ]
        fields += optionalFields
        fields += ["-", MountTable.escape(filesystemType), MountTable.escape(source),
                   MountTable.escape(superOptions.joined(separator: ","))]
        return fields.joined(separator: " ")
    }
}

/// Why a mountinfo file could not be read.
public enum MountInfoError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file could not be opened or read.
    case unreadable(path: String, errno: Int32)
    /// A line does not have the kernel's shape; `line` counts from 1.
    case malformedLine(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let errno):
            return "cannot read \(path): \(String(cString: strerror(errno)))"
                + (errno == ENOENT ? " — is /proc mounted (with --root, does DIR/proc/self/mountinfo exist)?" : "")
        case .malformedLine(let path, let line, let reason):
            return "\(path) line \(line): \(reason) — expected the kernel's mountinfo format"
                + " (ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [TAGS…] - FSTYPE SOURCE SUPEROPTIONS)"
        }
    }
}

/// The mounts of a process, in the kernel's order (parents before children; a later mount on the
/// same mount point hides the earlier one).
///
/// ```swift
/// let table = try MountTable.read(PodPaths(root: "/").resolve("/proc/self/mountinfo"))
/// table.visibleMount(at: "/etc/podinfo")?.filesystemType   // "tmpfs"
/// ```
public struct MountTable: Sendable, Equatable {
    public var mounts: [MountEntry]

    public init(mounts: [MountEntry]) {
        self.mounts = mounts
    }

    /// Parses mountinfo text. `path` only names the file in errors.
    public init(parsing bytes: [UInt8], path: String = "/proc/self/mountinfo") throws(MountInfoError) {
        var mounts: [MountEntry] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }  // the final newline; the kernel never writes blank lines
            do throws(LineError) {
                mounts.append(try Self.parseLine(line))
            } catch {
                throw .malformedLine(path: path, line: lineNumber, reason: error.reason)
            }
        }
        self.mounts = mounts
    }

    /// Reads and parses a mountinfo file.
    public static func read(_ path: String) throws(MountInfoError) -> MountTable {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch {
            throw .unreadable(path: path, errno: error.errno)
        }
        return try MountTable(parsing: bytes, path: path)
    }

    /// The mount a process sees at `mountPoint`: the last one listed there (later mounts stack on top).
    public func visibleMount(at mountPoint: String) -> MountEntry? {
        mounts.last { $0.mountPoint == mountPoint }
    }

    /// Every mount that is not hidden by a later mount on the same mount point, in table order.
    public var visibleMounts: [MountEntry] {
        var lastIndex: [String: Int] = [:]
        for (index, mount) in mounts.enumerated() { lastIndex[mount.mountPoint] = index }
        return mounts.enumerated().filter { lastIndex[$0.element.mountPoint] == $0.offset }.map(\.element)
    }

    /// The file's text: one line per mount, each ending in a newline.
    public var text: String {
        mounts.map { $0.line + "\n" }.joined()
    }

    // MARK: - Parsing

    private struct LineError: Error {
        var reason: String
    }

    private static func parseLine(_ line: ArraySlice<UInt8>) throws(LineError) -> MountEntry {
        // Exactly one space between fields: split without dropping empty fields, so a doubled space
        // is reported rather than silently shifting every later field.
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count >= 10 else {
            throw LineError(reason: "\(fields.count) fields, at least 10 are needed")
        }
        func number(_ index: Int, _ name: String) throws(LineError) -> Int {
            guard let value = Int(String(decoding: fields[index], as: UTF8.self)), value >= 0 else {
                throw LineError(reason: "\(name) \"\(String(decoding: fields[index], as: UTF8.self))\" is not a number")
            }
            return value
        }
        let mountID = try number(0, "mount ID")
        let parentID = try number(1, "parent ID")
        let device = String(decoding: fields[2], as: UTF8.self).split(separator: ":", omittingEmptySubsequences: false)
        guard device.count == 2, let major = UInt32(device[0]), let minor = UInt32(device[1]) else {
            throw LineError(reason: "device \"\(String(decoding: fields[2], as: UTF8.self))\" is not MAJOR:MINOR")
        }
        guard let separator = fields[6...].firstIndex(where: { $0.elementsEqual("-".utf8) }) else {
            throw LineError(reason: "no \"-\" separator before the filesystem type")
        }
        guard fields.count - separator - 1 == 3 else {
            throw LineError(reason: "\(fields.count - separator - 1) fields after \"-\", expected 3 (FSTYPE SOURCE SUPEROPTIONS)")
        }
        let root = unescape(fields[3])
        let mountPoint = unescape(fields[4])
        guard !root.isEmpty, !mountPoint.isEmpty else { throw LineError(reason: "empty root or mount point") }
        let fsType = unescape(fields[separator + 1])
        guard !fsType.isEmpty else { throw LineError(reason: "empty filesystem type") }
        func options(_ field: ArraySlice<UInt8>) -> [String] {
            unescape(field).split(separator: ",").map(String.init)
        }
        return MountEntry(
            mountID: mountID, parentID: parentID, major: major, minor: minor, root: root, mountPoint: mountPoint,
            mountOptions: options(fields[5]),
            optionalFields: fields[6..<separator].map { String(decoding: $0, as: UTF8.self) },
            filesystemType: fsType, source: unescape(fields[separator + 2]), superOptions: options(fields[separator + 3]))
    }

    /// Decodes the kernel's `\ooo` octal escapes; a backslash not followed by three octal digits is
    /// kept as it is (the kernel never writes one, but a lossless reading beats a failure).
    public static func unescape(_ field: some Collection<UInt8>) -> String {
        let bytes = Array(field)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        func isOctal(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7") }
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\"), index + 3 < bytes.count,
                isOctal(bytes[index + 1]), isOctal(bytes[index + 2]), isOctal(bytes[index + 3])
            {
                let value = (Int(bytes[index + 1] - 48) << 6) | (Int(bytes[index + 2] - 48) << 3) | Int(bytes[index + 3] - 48)
                if value <= 0xFF {
                    out.append(UInt8(value))
                    index += 4
                    continue
                }
            }
            out.append(bytes[index])
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The kernel's escaping (`mangle()` in fs/proc_namespace.c): space, tab, newline and backslash.
    public static func escape(_ text: String) -> String {
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: " "): out += Array("\\040".utf8)
            case UInt8(ascii: "\t"): out += Array("\\011".utf8)
            case UInt8(ascii: "\n"): out += Array("\\012".utf8)
            case UInt8(ascii: "\\"): out += Array("\\134".utf8)
            default: out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
