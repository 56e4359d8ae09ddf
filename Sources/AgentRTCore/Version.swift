/// The runtime's version and the plugin ABI it speaks.
public enum AgentRTVersion {
    public static let string = "0.2.0"
    public static let abiMajor = 1
    public static let abiMinor = 1
}
