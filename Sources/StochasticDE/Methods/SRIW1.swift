/// SRIW1: Rößler's (2010) order-1.5 strong, order-2 weak SRI method for Itô SDEs with diagonal
/// or scalar noise (4 stages, `f` twice and `g` four times per step). Adaptive with the
/// embedded estimate of Rackauckas & Nie (2017) once the shared loop drives it.
///
/// Reference: A. Rößler, SIAM J. Numer. Anal. 48(3) (2010), 922–952, the SRI scheme with weak
/// order 2 (rational coefficients below); checked against StochasticDiffEq.jl's `constructSRIW1`.
public struct SRIW1: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .sri(Self.tableau) }

    /// Row-major 4×4, strictly lower triangular.
    public static let tableau = SRITableau(
        unchecked: "SRIW1",
        A0: [0, 0, 0, 0,
             3.0 / 4, 0, 0, 0,
             0, 0, 0, 0,
             0, 0, 0, 0],
        A1: [0, 0, 0, 0,
             1.0 / 4, 0, 0, 0,
             1, 0, 0, 0,
             0, 0, 1.0 / 4, 0],
        B0: [0, 0, 0, 0,
             3.0 / 2, 0, 0, 0,
             0, 0, 0, 0,
             0, 0, 0, 0],
        B1: [0, 0, 0, 0,
             1.0 / 2, 0, 0, 0,
             -1, 0, 0, 0,
             -5, 3, 1.0 / 2, 0],
        alpha: [1.0 / 3, 2.0 / 3, 0, 0],
        beta1: [-1, 4.0 / 3, 2.0 / 3, 0],
        beta2: [-1, 4.0 / 3, -1.0 / 3, 0],
        beta3: [2, -4.0 / 3, -2.0 / 3, 0],
        beta4: [-2, 5.0 / 3, -2.0 / 3, 1],
        errorDriftStages: 2)
}
