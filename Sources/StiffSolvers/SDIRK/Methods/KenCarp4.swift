import DiffEqCore

/// Kennedy and Carpenter's ARK4(3)6L[2]SA, implicit part: a six-stage, fourth-order,
/// L-stable, stiffly accurate ESDIRK (γ = 1/4, stage order 2) with a third-order embedded
/// solution and the paper's third-order dense output. Here the implicit tableau is used alone,
/// as a fully implicit method (the additive explicit/implicit split of the paper is not
/// offered), as `KenCarp4` without a split function in DifferentialEquations.jl.
///
/// ```swift
/// let sol = try solve(TestProblems.hires(), KenCarp4(), reltol: 1e-6, abstol: 1e-6)
/// ```
///
/// Reference: C. A. Kennedy and M. H. Carpenter, "Additive Runge-Kutta schemes for
/// convection-diffusion-reaction equations", Applied Numerical Mathematics 44 (2003) 139-181,
/// ARK4(3)6L[2]SA (implicit tableau, embedded weights and dense-output coefficients b*_ij).
public struct KenCarp4: SDIRKAlgorithm {
    public var jacobian: JacobianSource
    public var newton: SDIRKNewtonOptions
    public var linearSolver: LinearSolver

    public init(
        jacobian: JacobianSource = .automatic, newton: SDIRKNewtonOptions = .init(), linearSolver: LinearSolver = .automatic
    ) {
        self.jacobian = jacobian
        self.newton = newton
        self.linearSolver = linearSolver
    }

    public var tableau: SDIRKTableau { .kenCarp4 }
}

extension SDIRKTableau {
    /// Kennedy & Carpenter (2003), ARK4(3)6L[2]SA, implicit (ESDIRK) tableau: the paper's exact
    /// rationals, rounded to Double. `b` is the last row of `A`; `b̂` is the embedded third-order
    /// solution; `B` holds the third-order dense-output coefficients `b*_ij` (θ, θ², θ³).
    public static let kenCarp4: SDIRKTableau = {
        let g: Double = 1.0 / 4
        let c: [Double] = [0, 1.0 / 2, 83.0 / 250, 31.0 / 50, 17.0 / 20, 1]
        let row3: [Double] = [8611.0 / 62500, -1743.0 / 31250, g]
        let row4: [Double] = [5012029.0 / 34652500, -654441.0 / 2922500, 174375.0 / 388108, g]
        let row5: [Double] = [
            15267082809.0 / 155376265600, -71443401.0 / 120774400, 730878875.0 / 902184768,
            2285395.0 / 8070912, g,
        ]
        let b: [Double] = [82889.0 / 524892, 0, 15625.0 / 83664, 69875.0 / 102672, -2260.0 / 8211, g]
        let a: [[Double]] = [[0], [g, g], row3, row4, row5, b]
        let bhat: [Double] = [
            4586570599.0 / 29645900160, 0, 178811875.0 / 945068544, 814220225.0 / 1159782912,
            -3700637.0 / 11593932, 61727.0 / 225920,
        ]
        let dense: [[Double]] = [
            [6943876665148.0 / 7220017795957, -54480133.0 / 30881146, 6818779379841.0 / 7100303317025],
            [0, 0, 0],
            [7640104374378.0 / 9702883013639, -11436875.0 / 14766696, 2173542590792.0 / 12501825683035],
            [-20649996744609.0 / 7521556579894, 174696575.0 / 18121608, -31592104683404.0 / 5083833661969],
            [8854892464581.0 / 2390941311638, -12120380.0 / 966161, 61146701046299.0 / 7138195549469],
            [-11397109935349.0 / 6675773540249, 3843.0 / 706, -17219254887155.0 / 4939391667607],
        ]
        let interpolant = SDIRKInterpolant(
            order: 3, coefficients: dense,
            source: "Kennedy & Carpenter (2003), dense output of ARK4(3)6L[2]SA (third order)")
        // Validated on construction; a failure here is a typo above.
        return try! SDIRKTableau(
            name: "KenCarp4", order: 4, embeddedOrder: 3, c: c, a: a, b: b, bhat: bhat,
            hasExplicitFirstStage: true, isStifflyAccurate: true, interpolant: interpolant)
    }()
}
