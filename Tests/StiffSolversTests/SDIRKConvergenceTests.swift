import DiffEqCore
import Glibc
import StiffSolvers
import Testing

/// Fixed-step convergence on Prothero-Robinson, `u' = λ(u − sin t) + cos t`, `u(0) = 0`
/// (solution `sin t`), on `[0, 1]`.
///
/// Setting: `λ = −10` and `h = 1/8 ... 1/128`, so `hλ` runs from −1.25 to −0.08: the moderately
/// stiff regime where the classical order shows (measured: TRBDF2 2.05 → 2.01, KenCarp4
/// 3.98 → 4.00, Kvaerno5 4.77 → 4.97). For `|hλ| ≫ 1` every method here drops to its stage
/// order 2 with an error proportional to `h²/|λ|` (measured at `λ = −10⁶`: orders 2.0-2.1, errors
/// 3e-10 → 1e-12), the order reduction of (E)SDIRK methods on Prothero-Robinson (Hairer &
/// Wanner II, §IV.15); `stiffRegimeShowsOrderReduction` holds that.
///
/// Dense output: its global error converges with order `min(p, q + 1)` for a method of order `p`
/// with an interpolant of order `q` (TRBDF2 2, KenCarp4 4, Kvaerno5 4; measured 1.98, 3.99, 4.03
/// at the finest pair).
@Suite struct SDIRKConvergenceTests {
    static let steps: [Double] = [1.0 / 8, 1.0 / 16, 1.0 / 32, 1.0 / 64, 1.0 / 128]

    /// End-point errors and dense-output errors (max over the midpoints of each step) of
    /// fixed-step solves at the given step sizes. Tolerances only drive the Newton test here
    /// (steps are fixed); 1e-13 keeps the iteration error far below the discretization error.
    static func errors(_ method: SDIRKMethod, lambda: Double, steps: [Double]) throws -> (end: [Double], dense: [Double]) {
        var end: [Double] = []
        var dense: [Double] = []
        for h in steps {
            let prob = ODEProblem(model: SDIRKProtheroRobinson(), u0: [0.0], tspan: (0, 1), p: [lambda])
            let sol = try method.solve(
                prob, options: SolveOptions(reltol: 1e-13, abstol: 1e-13, dt: h, adaptive: false))
            #expect(sol.retcode == .success)
            end.append(abs(sol.u.last![0] - sin(1.0)))
            var worst = 0.0
            var t = h / 2
            while t < 1 {
                worst = max(worst, abs(try sol(t)[0] - sin(t)))
                t += h
            }
            dense.append(worst)
        }
        return (end, dense)
    }

    @Test(arguments: SDIRKMethod.allCases)
    func classicalOrderAtModerateStiffness(method: SDIRKMethod) throws {
        let (end, dense) = try Self.errors(method, lambda: -10, steps: Self.steps)
        let p = Double(method.tableau.order)
        for order in sdirkObservedOrders(end) { #expect(abs(order - p) < 0.3, "end-point order \(order), theory \(p)") }
        let q = Double(min(method.tableau.order, method.tableau.interpolant.order + 1))
        for order in sdirkObservedOrders(dense) { #expect(abs(order - q) < 0.3, "dense-output order \(order), theory \(q)") }
    }

    @Test(arguments: SDIRKMethod.allCases)
    func stiffRegimeShowsOrderReduction(method: SDIRKMethod) throws {
        let (end, _) = try Self.errors(method, lambda: -1e6, steps: Self.steps)
        for order in sdirkObservedOrders(end) { #expect(abs(order - 2) < 0.3, "stiff-regime order \(order)") }
        #expect(end.allSatisfy { $0 < 1e-9 })
    }
}
