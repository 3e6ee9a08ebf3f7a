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
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // libinotifytools (Debian libinotifytools0-dev), imported through a module map and a shim
        // header. Linked statically from its archive by the target that wraps it.
        .systemLibrary(
            name: "CInotifyTools",
            path: "Sources/CInotifyTools"
        ),
        .target(
            name: "PodAgentKit",
            dependencies: [
                "CInotifyTools",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            linkerSettings: [.linkedLibrary(":libinotifytools.a")]
        ),
        .executableTarget(
            name: "podagent",
            dependencies: [
                "PodAgentKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PodAgentKitTests",
            dependencies: ["PodAgentKit", "CInotifyTools"],
            exclude: ["Vectors"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
