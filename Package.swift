// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "podagent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "podagent", targets: ["podagent"]),
        .library(name: "PodAgentKit", targets: ["PodAgentKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        // libinotifytools (Debian libinotifytools0-dev), imported through a module map and a shim
        // header. Linked statically from its archive by the target that wraps it.
        .systemLibrary(
            name: "CInotifyTools",
            path: "Sources/CInotifyTools"
        ),
        // libyaml (Debian libyaml-dev), the YAML parser of `simulate`'s manifests; linked statically.
        .systemLibrary(name: "CYAML", path: "Sources/CYAML"),
        // The Swift runtime's global-executor hook, reached through the linker (see main.swift).
        .target(name: "CExecutorHook", path: "Sources/CExecutorHook"),
        // hummingbird-project/swift-mustache 2.1.1 (Apache-2.0, LICENSE.txt), copied in with the changes
        // listed in Sources/Mustache/CHANGES.md: the package imports full Foundation for a lock and its
        // file-system loading, which podagent does not use.
        .target(name: "Mustache", path: "Sources/Mustache", exclude: ["LICENSE.txt", "CHANGES.md"]),
        // The loaded executable's and libraries' read-only segments, walked under the loader's lock
        // (dl_iterate_phdr, which the Swift Glibc module does not import; see StartupPages.swift).
        .target(name: "CLoadedObjects", path: "Sources/CLoadedObjects"),
        // glibc's malloc controls (malloc.h, which the Swift Glibc module does not import).
        .target(name: "CMalloc", path: "Sources/CMalloc"),
        .target(
            name: "PodAgentKit",
            dependencies: [
                "CInotifyTools",
                "CYAML",
                "CLoadedObjects",
                "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "Mustache",
            ],
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")],
            linkerSettings: [.linkedLibrary(":libinotifytools.a"), .linkedLibrary(":libyaml.a")]
        ),
        .executableTarget(
            name: "podagent",
            dependencies: [
                "PodAgentKit",
                "CExecutorHook",
                "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")],
            linkerSettings: [
                // Release builds link with lld: relative relocations packed (RELR: 21 KB instead of 2.6 MB of
                // .rela.dyn for the loader to read at every start) and no symbol table exported (the static
                // Swift runtime's `-export-dynamic` exported 28,000 symbols the loader searched for every
                // libc import). Idle RSS 23.1 -> 19.5 MB, measured; the binary stays position-independent.
                // Segments aligned to 64 KiB: the kernel then loads the executable on a 64 KiB boundary, so
                // the 64 KiB blocks in which it maps code (fault-around) fall on the same functions at every
                // start, the blocks scripts/order-file.sh packs the code into; aligned to 4 KiB, a random
                // shift at each start split the packed code over more of them.
                .unsafeFlags(
                    ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
                     "-Xlinker", "-z", "-Xlinker", "max-page-size=65536"],
                    .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .testTarget(
            name: "PodAgentKitTests",
            dependencies: [
                "PodAgentKit", "CInotifyTools",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            exclude: ["Vectors"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
