// The one dense output of every solver (issue #15, item 2): a `PiecewisePolynomial` grown step
// by step, read during the solve (what a delay equation's history needs: value and derivative)
// and after it. References: the analytic solution of `u' = cos(t) u²` (CosineRiccati, in
// DenseOutputOrderTests.swift), `u = 1/(2 − sin t)`, and exponential decay.
import DiffEq
import Foundation
import Testing

private struct HistoryDecay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) { for i in u.indices { du[i] = -u[i] } }
}

/// A named algorithm for the parametrised tests below.
struct DenseFamilyCase: Sendable, CustomStringConvertible {
    let name: String
    let algorithm: any ODEAlgorithm & Sendable
    var description: String { name }
}

let denseFamilyCases: [DenseFamilyCase] = [
    DenseFamilyCase(name: "Tsit5", algorithm: Tsit5()),
    DenseFamilyCase(name: "Vern9", algorithm: Vern9()),
    DenseFamilyCase(name: "RK4", algorithm: RK4()),
    DenseFamilyCase(name: "Euler", algorithm: Euler()),
    DenseFamilyCase(name: "Rodas5P", algorithm: Rodas5P()),
    DenseFamilyCase(name: "Rosenbrock23", algorithm: Rosenbrock23()),
    DenseFamilyCase(name: "KenCarp4", algorithm: KenCarp4()),
    DenseFamilyCase(name: "TRBDF2", algorithm: TRBDF2()),
    DenseFamilyCase(name: "AutoTsit5(Rosenbrock23)", algorithm: AutoTsit5(Rosenbrock23())),
]

/// The adaptive ones (the derivative check solves with tolerances only).
let adaptiveDenseFamilyCases = denseFamilyCases.filter { $0.name != "Euler" && $0.name != "RK4" }

@Suite struct AppendableDenseOutputTests {
    static let t0 = 0.4
    static func exact(_ t: Double) -> Double { 1 / (2 - sin(t)) }
    static func exactDerivative(_ t: Double) -> Double { cos(t) / ((2 - sin(t)) * (2 - sin(t))) }

    /// Every native family's dense output is a `PiecewisePolynomial`, gives the saved states
    /// exactly at the steps (the form's value at `θ = 0` and `θ = 1` has no rounding), and its
    /// value and derivative between the steps follow the analytic solution. (CVODE's are checked
    /// in SundialsBridgeTests.)
    @Test(arguments: denseFamilyCases)
    func valueAndDerivativeFollowTheSolution(_ m: DenseFamilyCase) throws {
        let fixed = m.name == "Euler" || m.name == "RK4"
        let options =
            fixed
            ? SolveOptions(saveEverystep: true, dense: true, dt: 0.01, adaptive: false)
            : SolveOptions(reltol: 1e-8, abstol: 1e-10, saveEverystep: true, dense: true)
        let prob = ODEProblem(model: CosineRiccati(), u0: [Self.exact(Self.t0)], tspan: (Self.t0, 3))
        let sol = try m.algorithm.solve(prob, options: options)
        #expect(sol.retcode == .success)
        let dense = try #require(sol.denseOutput)
        #expect(dense.piecewisePolynomial != nil)
        #expect(dense.order != nil)
        for (i, t) in sol.t.enumerated() {
            #expect(try sol(t) == sol.u[i], "\(m.name): sol(t) at saved point \(i) (t = \(t))")
        }
        // Generous bounds that a wrong conversion (a coefficient lost or misplaced) exceeds by
        // orders of magnitude: first-order Euler at dt = 0.01 is off by about 1e-3.
        let valueBound = m.name == "Euler" ? 5e-3 : 1e-5
        let derivativeBound = m.name == "Euler" ? 5e-2 : 1e-3
        for j in 0..<100 {
            let t = Self.t0 + (3 - Self.t0) * (Double(j) + 0.37) / 100
            #expect(abs(try sol(t)[0] - Self.exact(t)) < valueBound, "\(m.name) u at \(t)")
            #expect(abs(try sol.derivative(t)[0] - Self.exactDerivative(t)) < derivativeBound, "\(m.name) u' at \(t)")
        }
    }

    /// The derivative is that of the polynomial: a centred difference of the values inside a step
    /// agrees with it to the difference's own error (`h²/6 · u'''`, below 1e-7 here).
    @Test(arguments: adaptiveDenseFamilyCases)
    func derivativeIsThatOfTheValues(_ m: DenseFamilyCase) throws {
        let prob = ODEProblem(model: CosineRiccati(), u0: [Self.exact(Self.t0)], tspan: (Self.t0, 3))
        let sol = try m.algorithm.solve(prob, options: SolveOptions(reltol: 1e-6, abstol: 1e-8, saveEverystep: true, dense: true))
        let dense = try #require(sol.denseOutput)
        let (lo, hi) = dense.domain
        let d = 1e-5
        var value = [0.0], plus = [0.0], minus = [0.0]
        for j in 1..<50 {
            let t = lo + (hi - lo) * Double(j) / 50
            dense.derivative(at: t, into: &value)
            dense.evaluate(at: t + d, into: &plus)
            dense.evaluate(at: t - d, into: &minus)
            let difference = (plus[0] - minus[0]) / (2 * d)
            // A node between t − d and t + d makes the difference straddle two polynomials.
            guard abs(difference - value[0]) < 1e-6 else {
                let (a, b) = (sol.t.firstIndex { $0 > t - d }, sol.t.firstIndex { $0 >= t + d })
                #expect(a != b, "\(m.name): derivative \(value[0]) vs difference \(difference) at \(t)")
                continue
            }
        }
    }

    /// During the solve: after every step the integrator reads its own past, value and
    /// derivative, as a delay equation would, and gets what the finished solution gives.
    @Test func theIntegratorReadsItsPastDuringTheSolve() throws {
        let prob = ODEProblem(model: HistoryDecay(), u0: [1.0, 2.0], tspan: (0, 2), p: [])
        var integ = try Tsit5().makeIntegrator(prob, options: SolveOptions(reltol: 1e-8, abstol: 1e-10, dense: true))
        var out = [0.0, 0.0], slope = [0.0, 0.0]
        #expect(throws: InterpolationError.noDenseOutput) { try integ.interpolate(at: 0, into: &out) }
        var readings: [(t: Double, u: [Double], du: [Double])] = []
        while integ.step() {
            let t = integ.t
            // The delayed time t − 0.5 (clamped to the start), and the step just taken.
            for s in [max(0, t - 0.5), t, 0.5 * t] {
                try integ.interpolate(at: s, into: &out)
                try integ.derivative(at: s, into: &slope)
                #expect(abs(out[0] - exp(-s)) < 1e-8 && abs(out[1] - 2 * exp(-s)) < 1e-8)
                #expect(abs(slope[0] + out[0]) < 1e-5 && abs(slope[1] + out[1]) < 1e-5)
                readings.append((s, out, slope))
            }
            #expect(throws: InterpolationError.self) { try integ.interpolate(at: t + 1e-3, into: &out) }
            #expect(throws: InterpolationError.lengthMismatch(expected: 2, got: 1)) {
                var short = [0.0]
                try integ.interpolate(at: t, into: &short)
            }
        }
        let sol = integ.solution
        for r in readings {
            #expect(try sol(r.t) == r.u)
            // At a step's end the derivative read then was that of the step ending there; the
            // finished solution gives that of the step starting there.
            if !sol.t.contains(r.t) { #expect(try sol.derivative(r.t) == r.du) }
        }
    }

    /// An event's jump needs no zero-length interval: at the event time the dense output gives
    /// the state after the jump (the step starting there), just before it the state before.
    @Test(arguments: [DenseFamilyCase(name: "Tsit5", algorithm: Tsit5()), DenseFamilyCase(name: "Rodas5P", algorithm: Rodas5P())])
    func aJumpStartsTheNextStep(_ m: DenseFamilyCase) throws {
        let halve = ContinuousCallback<Double>(
            condition: { _, t, _ in t - 0.75 }, affect: { (context: inout EventContext<Double>) in context.u[0] *= 0.5 })
        let prob = ODEProblem(model: HistoryDecay(), u0: [1.0], tspan: (0, 2), p: []).remake(callbacks: CallbackSet(halve))
        let sol = try m.algorithm.solve(prob, options: SolveOptions(reltol: 1e-9, abstol: 1e-11, dense: true))
        #expect(sol.retcode == .success)
        // Saved before and after the affect: the event time twice.
        let i = try #require(sol.t.indices.dropLast().first { sol.t[$0] == sol.t[$0 + 1] })
        let te: Double = sol.t[i]
        let (before, after): ([Double], [Double]) = (sol.u[i], sol.u[i + 1])
        #expect(abs(te - 0.75) < 1e-12)
        #expect(try sol(te) == after)
        #expect(after[0] == 0.5 * before[0])
        let justBefore: Double = try sol(te - 1e-9)[0]
        #expect(abs(justBefore - exp(-(te - 1e-9))) < 1e-8)
        let later: Double = try sol(1.5)[0]
        #expect(abs(later - 0.5 * exp(-1.5)) < 1e-8)
    }

    /// Cubic Hermite data in both containers (the `HermiteDenseOutput` kept for integrators that
    /// expose only `u` and `u'`, and `appendHermite` into the common form) give the same cubic,
    /// value and derivative, on `u = exp(−t)` sampled at uneven nodes; the value's error is
    /// within the cubic Hermite bound `h⁴/384 · max|u⁗|` (HNW I §II.6), `h ≤ 0.2`, `|u⁗| ≤ 1`.
    @Test func hermiteDataGiveTheSameCubicInBothForms() throws {
        let times = [0.0, 0.1, 0.25, 0.3, 0.5]
        let states = times.map { [exp(-$0)] }
        let slopes = times.map { [-exp(-$0)] }
        let hermite = HermiteDenseOutput(times: times, states: states, derivatives: slopes)
        var poly = PiecewisePolynomial<Double>(stateCount: 1)
        for i in 0..<(times.count - 1) {
            let h = times[i + 1] - times[i]
            poly.appendHermite(
                from: times[i], to: times[i + 1], step: h, u0: states[i], u1: states[i + 1], f0: slopes[i], f1: slopes[i + 1])
        }
        #expect(poly.order == 3 && hermite.order == 3)
        var a = [0.0], b = [0.0]
        for j in 0...100 {
            let t = 0.5 * Double(j) / 100
            hermite.evaluate(at: t, into: &a)
            poly.evaluate(at: t, into: &b)
            #expect(abs(a[0] - b[0]) < 1e-15, "value at \(t)")
            #expect(abs(b[0] - exp(-t)) < pow(0.2, 4) / 384 * 1.01, "value error at \(t)")
            hermite.derivative(at: t, into: &a)
            poly.derivative(at: t, into: &b)
            #expect(abs(a[0] - b[0]) < 1e-13, "derivative at \(t)")
            #expect(abs(b[0] + exp(-t)) < 1e-3, "derivative error at \(t)")
        }
    }
}
