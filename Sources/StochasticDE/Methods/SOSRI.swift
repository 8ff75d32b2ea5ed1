/// SOSRI: the stability-optimized SRI method of Rackauckas & Nie, "Stability-optimized high
/// order methods and stiffness detection for pathwise stiff stochastic differential equations",
/// arXiv:1804.04344 (2018), for Itô SDEs with diagonal or scalar noise: strong order
/// 1.5, weak order 2, with a stability region enlarged for mildly stiff drift. 4 stages.
///
/// Coefficients: the paper's SOSRI table, as 17-digit doubles. The digits here are those of
/// StochasticDiffEq.jl's `SOSRIConstantCache` (its `constructSRIOpt1`); they meet Rößler's 25
/// strong order 1.5 conditions to the residual measured in `SDETableauTests` (`c0 = A0 e`,
/// `c1 = A1 e` are computed, not copied).
public struct SOSRI: SDEAlgorithm {
    public init() {}
    public var scheme: SDEScheme { .sri(Self.tableau) }

    public static let tableau = SRITableau(
        unchecked: "SOSRI",
        A0: [0, 0, 0, 0,
             -0.04199224421316468, 0, 0, 0,
             2.842612915017106, -2.0527723684000727, 0, 0,
             4.338237071435815, -2.8895936137439793, 2.3017575594644466, 0],
        A1: [0, 0, 0, 0,
             0.26204282091330466, 0, 0, 0,
             0.20903646383505375, -0.1502377115150361, 0, 0,
             0.05836595312746999, 0.6149440396332373, 0.08535117634046772, 0],
        B0: [0, 0, 0, 0,
             -0.21641093549612528, 0, 0, 0,
             1.5336352863679572, 0.26066223492647056, 0, 0,
             -1.0536037558179159, 1.7015284721089472, -0.20725685784180017, 0],
        B1: [0, 0, 0, 0,
             -0.5119011827621657, 0, 0, 0,
             2.67767339866713, -4.9395031322250995, 0, 0,
             0.15580956238299215, 3.2361551006624674, -1.4223118283355949, 0],
        alpha: [1.140099274172029, -0.6401334255743456, 0.4736296532772559, 0.026404498125060714],
        beta1: [-1.8453464565104432, 2.688764531100726, -0.2523866501071323, 0.40896857551684956],
        beta2: [0.4969658141589478, -0.5771202869753592, -0.12919702470322217, 0.2093514975196336],
        beta3: [2.8453464565104425, -2.688764531100725, 0.2523866501071322, -0.40896857551684945],
        beta4: [0.11522663875443433, -0.57877086147738, 0.2857851028163886, 0.17775911990655704],
        errorDriftStages: 4)
}
