// The drift-implicit θ-method on a stiff problem, its strong order, Newton failures, and
// duals through its Newton iteration.
import DiffEqCore
import Foundation
import StochasticDE
import Testing

/// A stiff linear drift with multiplicative diagonal noise: u₁' = −1000 (u₁ − u₂),
/// u₂' = −u₂, g = 0.1 u. Eigenvalues −1000 and −1: explicit EM needs h < 0.002.
struct StiffLinear: SDEModel {
    func drift<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = S(-1000.0) * (u[0] - u[1])
        du[1] = -u[1]
    }
    func diffusion<S: DiffEqScalar>(_ g: inout [S], _ u: [S], _ p: [S], _ t: S) {
        g[0] = S(0.1) * u[0]
        g[1] = S(0.1) * u[1]
    }
}

@Suite struct ImplicitEMTests {
    static let stiff = SDEProblem(model: StiffLinear(), u0: [2.0, 1.0], tspan: (0, 1))

    /// At h = 1/64 (|λ|h ≈ 16) EM explodes (the stiff mode grows by |1 − 1000/64| ≈ 14.6 per
    /// step, to about 1e74 at t = 1: finite, so the solve "succeeds" with garbage);
    /// ImplicitEM on the same tree path stays within 0.01 of EM at h = 2⁻¹⁴ (|λ|h ≈ 0.06,
    /// stable) at t = 1, and so does the adaptive ImplicitEM, with far fewer steps.
    @Test func stiffDriftIsStable() throws {
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 2, seed: 17, tolerance: 0x1p-14)
        let coarse = SolveOptions(saveEverystep: false, dt: 1.0 / 64, adaptive: false)
        let em = try solve(Self.stiff, EM(), noise: BrownianTreeNoise(tree), options: coarse)
        #expect(!(abs(em.u.last![0]) < 1e50), "EM at h = 1/64: \(em.u.last!)")
        let reference = try solve(
            Self.stiff, EM(), noise: BrownianTreeNoise(tree), options: SolveOptions(saveEverystep: false, dt: 0x1p-14, adaptive: false))
        #expect(reference.retcode == .success)
        let implicitSol = try solve(Self.stiff, ImplicitEM(), noise: BrownianTreeNoise(tree), options: coarse)
        #expect(implicitSol.retcode == .success)
        #expect(implicitSol.stats.nnonliniter >= 64)
        let ref = reference.u.last!
        for i in 0..<2 { #expect(abs(implicitSol.u.last![i] - ref[i]) < 0.01, "fixed: \(implicitSol.u.last!) vs \(ref)") }
        let adaptive = try solve(
            Self.stiff, ImplicitEM(), noise: BrownianTreeNoise(tree), options: SolveOptions(reltol: 1e-3, abstol: 1e-3, saveEverystep: false))
        #expect(adaptive.retcode == .success)
        for i in 0..<2 { #expect(abs(adaptive.u.last![i] - ref[i]) < 0.01, "adaptive: \(adaptive.u.last!) vs \(ref)") }
        #expect(adaptive.stats.naccept < 2000, "\(adaptive.stats)")
    }

    @Test func strongOrderOnGBM() throws {
        let (order, errors) = try solveStrongErrors(gbmScalarProblem, ImplicitEM(), trajectories: 30, exact: gbmIto)
        #expect(abs(order - 0.5) <= 0.2, "order \(order), errors \(errors)")
        let (orderHalf, errorsHalf) = try solveStrongErrors(gbmScalarProblem, ImplicitEM(theta: 0.5), trajectories: 30, exact: gbmIto)
        #expect(abs(orderHalf - 0.5) <= 0.2, "θ = 1/2: order \(orderHalf), errors \(errorsHalf)")
    }

    /// A drift whose implicit equation has no solution for large steps (u' = u², from u0 = 1
    /// with h = 1: x = 1 + x² has no real root): Newton fails; with fixed steps the solve ends
    /// with a convergence failure and says why.
    @Test func newtonFailureIsReported() throws {
        let prob = SDEProblem<SDEClosures<Double>>(
            f: { du, u, _, _ in du[0] = u[0] * u[0] }, g: { g, _, _, _ in g[0] = 0 }, u0: [1], tspan: (0, 2))
        let sol = try solve(prob, ImplicitEM(), seed: 1, options: SolveOptions(dt: 1, adaptive: false))
        #expect(sol.retcode == .convergenceFailure)
        #expect(sol.message?.contains("Newton") == true, "\(sol.message ?? "")")
    }

    /// Duals through the Newton iteration: d u(1)/d(u0) on the stiff problem on one path,
    /// against central differences, to 1e-6 relative.
    @Test func dualsThroughNewton() throws {
        typealias D = Dual<1, Double>
        let tree = try VirtualBrownianTree(t0: 0, t1: 1, dimension: 2, seed: 2, tolerance: 0x1p-10)
        let options = SolveOptions(saveEverystep: false, dt: 1.0 / 32, adaptive: false)
        let prob = SDEProblem(model: StiffLinear(), u0: [D(2.0, seed: 0), D(constant: 1.0)], tspan: (0, 1))
        let sol = try solve(prob, ImplicitEM(), noise: BrownianTreeNoise(tree), options: options)
        func value(_ a: Double) throws -> [Double] {
            try solve(SDEProblem(model: StiffLinear(), u0: [a, 1.0], tspan: (0, 1)), ImplicitEM(), noise: BrownianTreeNoise(tree), options: options).u.last!
        }
        let eps = 1e-6
        let plus = try value(2 + eps), minus = try value(2 - eps)
        for i in 0..<2 {
            let fd = (plus[i] - minus[i]) / (2 * eps)
            let ad = sol.u.last![i].partials[0]
            #expect(abs(ad - fd) <= 1e-6 * max(abs(fd), 1e-3), "component \(i): dual \(ad), central difference \(fd)")
        }
    }
}
