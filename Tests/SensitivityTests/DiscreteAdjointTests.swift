import DiffEqCore
import ExplicitRK
import Sensitivity
import StiffSolvers
import Testing

// DiscreteAdjoint: the exact gradient of the computed solution with the accepted steps frozen.
// Its references are computed here by other means: forward-mode dual numbers through the same
// solver replaying the same steps (adaptive off, tstops at the recorded step ends), central
// differences of that frozen map, and the continuous adjoints at tight tolerance (where the
// discrete and continuous gradients both approach the exact derivative of the ODE's solution).

/// Lotka-Volterra with a time-dependent forcing (so that the stage times enter).
private struct ForcedLotkaVolterra: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1] + S(0.1) * t * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }
}

/// `Σ_k w·u(t_k)³` with weights that differ per component: cotangents that depend on the state
/// and on the component.
private struct CubicLoss: PointLoss {
    func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S {
        u[0] * u[0] * u[0] + S(0.5) * u[1] * u[1] * u[1] + S(t) * u[0]
    }
}

private let u0 = [1.0, 1.2]
private let p0 = [1.5, 1.0, 3.0, 1.0]
private let span = (0.0, 5.0)
/// Observation times not on any grid the solver could land on; 0 and 5 are the span's ends.
private let observationTimes = [0.0, 0.37, 0.74, 1.11, 1.9, 2.05, 2.6, 3.33, 4.1, 4.72, 5.0]

/// The step ends of the adaptive forward solve DiscreteAdjoint differentiates (its own options:
/// the observations, every step, dense output).
private func stepEnds<A: ODEAlgorithm>(_ algorithm: A, reltol: Double, abstol: Double) throws -> [Double] {
    let problem = ODEProblem(model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0)
    let options = SolveOptions(
        reltol: reltol, abstol: .scalar(abstol), saveat: .times(observationTimes), saveEverystep: true, dense: true)
    let sol = try algorithm.solve(problem, options: options)
    let dense = try #require(sol.denseOutput?.piecewisePolynomial)
    return (0..<dense.count).map { i in dense.withStep(i) { _, end, _, _ in end } }
}

/// The options that replay the recorded steps: fixed steps longer than the span, clipped onto
/// every recorded step end.
private func frozen(_ ends: [Double]) -> SolveOptions {
    SolveOptions(saveat: .times(observationTimes), dt: 10, tstops: ends, adaptive: false)
}

private func discreteGradient<A: ODEAlgorithm>(_ algorithm: A, reltol: Double, abstol: Double) throws -> SensitivityResult {
    let problem = ODEProblem(model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0)
    return try gradient(
        of: CubicLoss(), problem, algorithm: algorithm,
        options: SolveOptions(reltol: reltol, abstol: .scalar(abstol), saveat: .times(observationTimes)),
        sensealg: DiscreteAdjoint())
}

@Suite("DiscreteAdjoint")
struct DiscreteAdjointTests {
    /// Against forward-mode duals through the same steps: the same derivative of the same
    /// arithmetic (up to the rounding of the two sweeps and of `t_{n+1} − t_n` against the
    /// forward step's `h`), for FSAL (Tsit5, DP5, BS3) and non-FSAL methods with extra
    /// interpolation stages (Vern7), with observations inside steps. Measured worst relative
    /// differences (dp, du0): Tsit5 1.7e-14, 7.3e-15 (24 steps); DP5 8.4e-16, 6.1e-16 (19);
    /// Vern7 7.1e-14, 6.2e-14 (18); BS3 5.3e-15, 5.4e-15 (95).
    @Test(arguments: ["Tsit5", "DP5", "Vern7", "BS3"])
    func equalsForwardModeOfTheFrozenSteps(method: String) throws {
        func check<A: ODEAlgorithm>(_ algorithm: A) throws {
            let (reltol, abstol) = (1e-4, 1e-7)
            let ends = try stepEnds(algorithm, reltol: reltol, abstol: abstol)
            let r = try discreteGradient(algorithm, reltol: reltol, abstol: abstol)
            // Observations strictly inside steps exercise the interpolant's reverse.
            let inside = observationTimes.filter { t in !ends.contains(t) && t > 0 && t < 5 }
            #expect(inside.count >= 8)
            #expect(r.stats.backwardSteps == ends.count)
            let problem = ODEProblem(model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0)
            let dual = try gradient(
                of: CubicLoss(), problem, algorithm: algorithm, options: frozen(ends), sensealg: ForwardDiffSensitivity())
            #expect(dual.stats.forwardSteps == ends.count, "the replay took \(dual.stats.forwardSteps) steps, not \(ends.count)")
            #expect(abs(r.loss - dual.loss) <= 1e-13 * abs(dual.loss), "loss \(r.loss) vs \(dual.loss)")
            let errP = relativeError(r.dp, dual.dp, floor: 0), errU = relativeError(r.du0, dual.du0, floor: 0)
            #expect(errP < 1e-12 && errU < 1e-12, "\(method): dp \(errP), du0 \(errU)")
        }
        switch method {
        case "Tsit5": try check(Tsit5())
        case "DP5": try check(DP5())
        case "Vern7": try check(Vern7())
        default: try check(BS3())
        }
    }

    /// Against central differences of the frozen map (the replay above at perturbed `p` and
    /// `u0`), which needs no derivative code at all. Relative step 1e-6: truncation `O(h²)` and
    /// rounding `ε/h` both near 1e-10 relative, so 1e-7 is a bound with room (measured 5.1e-9).
    @Test func equalsCentralDifferencesOfTheFrozenMap() throws {
        let (reltol, abstol) = (1e-4, 1e-7)
        let ends = try stepEnds(Tsit5(), reltol: reltol, abstol: abstol)
        let r = try discreteGradient(Tsit5(), reltol: reltol, abstol: abstol)
        func loss(_ theta: [Double]) throws -> Double {
            let problem = ODEProblem(model: ForcedLotkaVolterra(), u0: Array(theta[4...]), tspan: span, p: Array(theta[..<4]))
            let sol = try Tsit5().solve(problem, options: frozen(ends))
            #expect(sol.t == observationTimes)
            return zip(sol.u, sol.t).reduce(0.0) { $0 + CubicLoss()($1.0, $1.1) }
        }
        let theta = p0 + u0
        var fd = [Double](repeating: 0, count: theta.count)
        for j in theta.indices {
            let h = 1e-6 * max(1, abs(theta[j]))
            var plus = theta, minus = theta
            plus[j] += h
            minus[j] -= h
            fd[j] = (try loss(plus) - loss(minus)) / (2 * h)
        }
        let err = relativeError(r.dp + r.du0, fd)
        #expect(err < 1e-7, "relative difference from central differences \(err)")
    }

    /// At tight tolerance the discrete gradient and the continuous adjoints' both converge to the
    /// derivative of the exact solution: measured 5.6e-11 relative apart (both adjoints) at
    /// 1e-10/1e-12, held to 1e-9.
    @Test func agreesWithTheContinuousAdjointsAtTightTolerance() throws {
        let problem = ODEProblem(model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0)
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-12, saveat: .times(observationTimes))
        let d = try gradient(of: CubicLoss(), problem, algorithm: Vern7(), options: options, sensealg: DiscreteAdjoint())
        for sensealg in [InterpolatingAdjoint(), QuadratureAdjoint()] as [any SensitivityAlgorithm] {
            let c = try gradient(of: CubicLoss(), problem, algorithm: Vern7(), options: options, sensealg: sensealg)
            let err = relativeError(d.dp + d.du0, c.dp + c.du0)
            #expect(err < 1e-9, "\(sensealg.name): \(err)")
        }
    }

    /// A pullback through a GradientContext (forward pass kept) gives the one-call gradient bit
    /// for bit, and a second call on the same context (its workspace reused) too.
    @Test func contextPullbackEqualsGradient() throws {
        let options = SolveOptions(reltol: 1e-5, abstol: 1e-8, saveat: .times(observationTimes))
        let context = try GradientContext(
            model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0, algorithm: Tsit5(), options: options,
            sensealg: DiscreteAdjoint())
        let direct = try gradient(
            of: CotangentLoss(times: observationTimes, cotangents: observationTimes.map { [1, $0] }),
            ODEProblem(model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0), algorithm: Tsit5(), options: options,
            sensealg: DiscreteAdjoint())
        for _ in 0..<2 {
            _ = try context.forward(u0: u0, p: p0)
            let r = try context.pullback(observationTimes.map { [1, $0] })
            #expect(r.dp == direct.dp && r.du0 == direct.du0)
        }
    }

    /// Not an explicit Runge-Kutta method: a typed error before any work.
    @Test func refusesOtherAlgorithms() throws {
        let problem = ODEProblem(model: ForcedLotkaVolterra(), u0: u0, tspan: span, p: p0)
        #expect {
            try gradient(of: CubicLoss(), problem, algorithm: Rodas5P(), options: SolveOptions(), sensealg: DiscreteAdjoint())
        } throws: { error in
            guard case SensitivityError.unsupported(let why) = error else { return false }
            return why.contains("explicit Runge-Kutta")
        }
    }
}
