import DiffEqCore
import ExplicitRK
import Sensitivity
import Testing

// Gradients of problems in Float: the Double problem's gradient at the promoted inputs bit for
// bit (that is how they are computed, see `gradient(of:_:...)` for Float problems), central
// differences of tight Double solves, and central differences of the user's own Float solves
// (what a Float user can check without Double).

private struct LotkaVolterraModel: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}

@Suite("Float gradients")
struct FloatGradientTests {
    let pf: [Float] = [1.5, 1.1, 3, 0.9]
    let uf: [Float] = [1, 1.2]

    @Test func floatProblemGradientEqualsTheDoubleOneForEverySensealg() throws {
        let floatProblem = ODEProblem(model: LotkaVolterraModel(), u0: uf, tspan: (0, 2), p: pf)
        let doubleProblem = ODEProblem(
            model: LotkaVolterraModel(), u0: uf.map(Double.init), tspan: (0, 2), p: pf.map(Double.init))
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-10, saveat: .every(0.25))
        func check<S: SensitivityAlgorithm>(_ s: S) throws {
            let a = try gradient(of: SumOfSquaresLoss(), floatProblem, algorithm: Tsit5(), options: options, sensealg: s)
            let b = try gradient(of: SumOfSquaresLoss(), doubleProblem, algorithm: Tsit5(), options: options, sensealg: s)
            #expect(a.dp == b.dp && a.du0 == b.du0 && a.loss == b.loss, "\(s.name)")
        }
        try check(QuadratureAdjoint())
        try check(InterpolatingAdjoint())
        try check(BacksolveAdjoint(checkpointing: true))
        try check(ForwardDiffSensitivity())
        try check(ForwardSensitivity())
        let auto = try gradient(of: SumOfSquaresLoss(), floatProblem, algorithm: Tsit5(), options: options)
        #expect(auto.method == "AutoSensitivity → ForwardDiffSensitivity")
    }

    @Test func floatGradientMatchesCentralDifferences() throws {
        let floatProblem = ODEProblem(model: LotkaVolterraModel(), u0: uf, tspan: (0, 2), p: pf)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .every(0.25))
        let q = try gradient(of: SumOfSquaresLoss(), floatProblem, algorithm: Tsit5(), options: options, sensealg: QuadratureAdjoint())
        let f = try gradient(of: SumOfSquaresLoss(), floatProblem, algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        // Tight Double solves at the promoted point: truncation O(h²) ≈ 1e-8 with h = 1e-4, the
        // solves' 1e-12 / h ≈ 1e-8.
        let fd = try centralDifferences(
            LotkaVolterraModel(), u0: uf.map(Double.init), p: pf.map(Double.init), tspan: (0, 2), saveat: .every(0.25),
            algorithm: Tsit5(), reltol: 1e-12, abstol: 1e-12)
        #expect(relativeError(q.dp, fd.dp) < 1e-6, "\(relativeError(q.dp, fd.dp))")
        #expect(relativeError(q.du0, fd.du0) < 1e-6, "\(relativeError(q.du0, fd.du0))")
        #expect(relativeError(q.dp, f.dp) < 1e-7, "QuadratureAdjoint vs ForwardDiffSensitivity \(relativeError(q.dp, f.dp))")

        // Central differences of Float solves (reltol 1e-6, abstol 1e-7, the tightest that Float
        // arithmetic honours) with a step of 1e-2 relative: the truncation error O(h²) is about
        // 1e-4 of the gradient, and the solves' errors (about 1e-6 of a loss of order 10, plus
        // step-selection noise of the same size) divided by h add about 1e-3. Hence 1e-2.
        func floatLoss(_ p: [Float]) throws -> Double {
            let sol = try Tsit5().solve(
                ODEProblem(model: LotkaVolterraModel(), u0: uf, tspan: (0, 2), p: p),
                options: SolveOptions(reltol: 1e-6, abstol: 1e-7, saveat: .every(0.25)))
            #expect(sol.retcode.isSuccessful)
            var s = 0.0
            for u in sol.u { for x in u { s += Double(x) * Double(x) } }
            return s
        }
        var floatFD = [Double](repeating: 0, count: pf.count)
        for j in pf.indices {
            let h = Float(1e-2) * Swift.max(1, abs(pf[j]))
            var a = pf, b = pf
            a[j] += h
            b[j] -= h
            floatFD[j] = (try floatLoss(a) - floatLoss(b)) / Double(a[j] - b[j])
        }
        #expect(relativeError(q.dp, floatFD) < 1e-2, "vs Float central differences: \(relativeError(q.dp, floatFD))")
    }

    @Test func floatProblemWithEventsIsRefused() throws {
        let event = DiscreteCallback<Float>(condition: { _, t, _ in t == 0.5 }, affect: { _ in })
        let problem = ODEProblem(model: LotkaVolterraModel(), u0: uf, tspan: (0, 1), p: pf).remake(callbacks: CallbackSet(event))
        #expect(throws: SensitivityError.self) {
            try gradient(
                of: SumOfSquaresLoss(), problem, algorithm: Tsit5(), options: SolveOptions(), sensealg: QuadratureAdjoint())
        }
    }
}
