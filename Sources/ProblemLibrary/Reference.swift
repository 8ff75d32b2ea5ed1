/// A published reference value of a solution, with where it comes from.
public struct ReferenceSolution: Sendable {
    /// The time of the reference state.
    public let t: Double
    /// The reference state.
    public let u: [Double]
    /// Where the numbers come from.
    public let source: String

    public init(t: Double, u: [Double], source: String) {
        self.t = t
        self.u = u
        self.source = source
    }
}
