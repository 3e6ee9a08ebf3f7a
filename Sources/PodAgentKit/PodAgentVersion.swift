/// The version reported by `podagent --version` and, later, the `podagent_build_info` metric.
public enum PodAgentVersion {
    public static let string = "0.1.0"
}
