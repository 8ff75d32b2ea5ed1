import DiffEqCore
import ExplicitRK
import Foundation
import NeuralDE
import NeuralNetworks
import Sensitivity
import Testing

// Issue #16 at default tolerances (reltol 1e-3, abstol 1e-6): the spiral under the peers'
// protocol. diffrax (which differentiates the discrete solve) reaches 0.33 after 300 Adam(0.1)
// iterations and torchdiffeq 0.43 (Data/peers/README.md); the continuous adjoints here ended at
// 109 (QuadratureAdjoint) and 69.7 (InterpolatingAdjoint).

/// The spiral's solve layer at `reltol`/`abstol` with `sensealg`, from the peers' weights.
private func spiralLayer<S: SensitivityAlgorithm>(_ sensealg: S, reltol: Double, abstol: Double) throws -> (
    layer: SolveLayer<NetworkRHS<Double>, Tsit5, S>, p0: [Double], loss: SquaredErrorLoss, ts: [Double]
) {
    let (ts, data) = try peerSpiralData()
    let chain = try Chain<Double>(.power(3), .dense(2, 50, .tanh), .dense(50, 2))
    let p0 = try peerSpiralWeights(chain)
    let layer = try SolveLayer(
        model: try NetworkRHS(chain), u0: [2, 0], tspan: (0, 1.5), p: p0, algorithm: Tsit5(),
        options: SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: .times(ts)), sensealg: sensealg)
    return (layer, p0, try SquaredErrorLoss(data: data), ts)
}

private func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }

@Suite("Spiral at default tolerances")
struct DefaultToleranceSpiralTests {
    /// DiscreteAdjoint's gradient at default tolerances is the derivative of the loss the
    /// optimizer evaluates (with the solve's steps frozen): its directional derivative along a
    /// fixed direction against central differences of the frozen map. Measured: 6.9e-10
    /// relative apart.
    @Test func discreteGradientIsThatOfTheComputedLoss() throws {
        let (layer, p0, loss, ts) = try spiralLayer(DiscreteAdjoint(), reltol: 1e-3, abstol: 1e-6)
        let (_, g) = try layer.valueAndGradient(u0: [2, 0], p: p0) { s, c in try loss(s, &c) }
        // The steps the default-tolerance solve took (DiscreteAdjoint's own forward options).
        let model = layer.model
        let sol = try Tsit5().solve(
            ODEProblem(model: model, u0: [2, 0], tspan: (0, 1.5), p: p0),
            options: SolveOptions(reltol: 1e-3, abstol: 1e-6, saveat: .times(ts), saveEverystep: true, dense: true))
        let dense = try #require(sol.denseOutput?.piecewisePolynomial)
        let ends = (0..<dense.count).map { i in dense.withStep(i) { _, end, _, _ in end } }
        #expect(g.stats.backwardSteps == ends.count)
        func frozenLoss(_ p: [Double]) throws -> Double {
            let s = try Tsit5().solve(
                ODEProblem(model: model, u0: [2, 0], tspan: (0, 1.5), p: p),
                options: SolveOptions(saveat: .times(ts), dt: 10, tstops: ends, adaptive: false))
            var c = s.u
            return try loss(s.u, &c)
        }
        let direction = p0.indices.map { sin(Double($0) + 1) }
        let h = 1e-6
        let plus = zip(p0, direction).map { $0 + h * $1 }, minus = zip(p0, direction).map { $0 - h * $1 }
        let fd = (try frozenLoss(plus) - frozenLoss(minus)) / (2 * h)
        let ad = zip(g.dp, direction).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(ad - fd) <= 1e-6 * abs(fd), "directional derivative \(ad), central differences \(fd)")
    }

    /// 300 Adam(0.1) iterations at default tolerances with the discrete adjoint: the issue's run.
    ///
    /// Measured here: the loss falls smoothly to 0.499 at iteration 177, then jumps to 1.008 at
    /// 178 and 97.9 at 179, and ends at 13.57 after 300 (the continuous adjoints: 109 with
    /// QuadratureAdjoint). The exact gradient does not prevent it, and the test measures why: at
    /// the first jump the default-tolerance solve itself is wrong (its loss 1.008 where a solve at
    /// 1e-10 gives 0.492: the error estimate accepted steps whose true error is far above the
    /// tolerance), and the exact derivative of that wrong solve is two orders of magnitude larger
    /// than the true gradient (215 against 1.16 in norm, 186x), so Adam's next step throws the
    /// parameters far away.
    /// Every method that differentiates the loose solve (diffrax too) or approximates its adjoint
    /// at the same tolerance inherits that; which run survives such points is chaotic (the same
    /// run with an I controller, diffrax's default: 0.625; QuadratureAdjoint with it: 0.225).
    @Test func trainingAtDefaultTolerances() throws {
        let (layer, p0, loss, _) = try spiralLayer(DiscreteAdjoint(), reltol: 1e-3, abstol: 1e-6)
        let (tight, _, _, _) = try spiralLayer(DiscreteAdjoint(), reltol: 1e-10, abstol: 1e-12)
        var p = p0
        var adam = try Adam<Double>(0.1)
        var history: [Double] = []
        // The first iterate where the loose solve's loss is off the accurate one (a solve at
        // 1e-10) by more than half: there, the gradient of the loose solve against the accurate.
        var jump: (k: Int, loss: Double, tightLoss: Double, gradient: Double, tightGradient: Double)?
        for k in 0...300 {
            let (value, g) = try layer.valueAndGradient(u0: [2, 0], p: p) { s, c in try loss(s, &c) }
            history.append(value)
            if jump == nil {
                let states = try tight.solve(u0: [2, 0], p: p)
                var c = states
                let tightValue = try loss(states, &c)
                if abs(value - tightValue) > 0.5 * tightValue {
                    let (_, tg) = try tight.valueAndGradient(u0: [2, 0], p: p) { s, c in try loss(s, &c) }
                    jump = (k, value, tightValue, norm(g.dp), norm(tg.dp))
                }
            }
            if k < 300 { try adam.update(&p, gradient: g.dp) }
        }
        #expect(abs(history[0] - 217.473) < 1e-3)
        // Whether this run meets such a point is chaotic: with the forward solve's tanh changed
        // at the rounding level (2 ulp, NeuralNetworks' `_networkTanh` in place of glibc's), the
        // same protocol never departs (measured: within half of the accurate loss for all 300
        // iterations, 0.2005 at the end), where the run with glibc's tanh jumped at iteration
        // 178 as described above. When a departure occurs, it is the one measured above.
        if let first = jump {
            // Before it the descent was smooth (the loss at most 1 from iteration 150 on), after
            // it the loss jumped by two orders of magnitude.
            try #require(first.k > 150 && first.k < 300, "the first departure at iteration \(first.k)")
            #expect(history[first.k - 1] < 1, "the loss before iteration \(first.k): \(history[first.k - 1])")
            #expect(history[first.k + 1] > 50 * history[first.k - 1], "\(history[(first.k - 1)...(first.k + 1)])")
            #expect(first.gradient > 10 * first.tightGradient, "at iteration \(first.k): |g| \(first.gradient), at 1e-10 \(first.tightGradient)")
        }
        let final = history[300]
        withKnownIssue("at default tolerances the loose solve's error can spike (measured above) and throw Adam off: \(final) after 300 iterations, the peers 0.33-0.43", isIntermittent: true) {
            #expect(final >= 0.2 && final <= 0.5, "loss after 300 iterations \(final)")
        }
    }
}
