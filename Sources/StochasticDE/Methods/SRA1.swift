/// SRA1: Rößler's (2010) order-1.5 strong, order-2 weak SRA method for additive noise
/// (2 stages). Reference: A. Rößler, SIAM J. Numer. Anal. 48(3) (2010), 922–952, the SRA1 scheme;
/// digits checked against StochasticDiffEq.jl's `constructSRA1`.
public struct SRA1: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .sra(Self.tableau) }

    public static let tableau = SRATableau(
        unchecked: "SRA1",
        A0: [0, 0,
             3.0 / 4, 0],
        B0: [0, 0,
             3.0 / 2, 0],
        alpha: [1.0 / 3, 2.0 / 3],
        beta1: [1, 0],
        beta2: [-1, 1],
        c1: [1, 0])
}
