/// SOSRA: the stability-optimized SRA method of Rackauckas & Nie (arXiv:1804.04344) for
/// additive noise, strong order 1.5, 3 stages, with a stability region enlarged for stiff drift.
///
/// Coefficients: the paper's SOSRA table; digits as in StochasticDiffEq.jl's `constructSOSRA`,
/// verified against Rößler's SRA order conditions in `SDETableauTests` (`c0 = A0 e` computed).
public struct SOSRA: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .sra(Self.tableau) }

    public static let tableau = SRATableau(
        unchecked: "SOSRA",
        A0: [0, 0, 0,
             0.6923962376159507, 0, 0,
             -3.1609142252828395, 4.1609142252828395, 0],
        B0: [0, 0, 0,
             1.3371632704399763, 0, 0,
             1.442371048468624, 1.8632741501139225, 0],
        alpha: [0.2889874966892885, 0.6859880440839937, 0.025024459226717772],
        beta1: [-16.792534242221663, 17.514995785380226, 0.27753845684143835],
        beta2: [0.4237535769069274, 0.6010381474428539, -1.0247917243497813],
        c1: [0, 0.041248171110700504, 1])
}
