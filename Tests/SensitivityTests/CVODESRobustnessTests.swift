import Foundation
import Testing
import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import SundialsBridge
import SensitivityCVODES

// Regression tests for the CVODES paths of issues #14 (a crash, a hang and unbounded work found
// by fuzzing) and #13 (the algorithm argument ignored).

/// Lotka-Volterra whose right-hand side is NaN past `t = 2` (a wall of NaNs).
private struct NaNWallLotkaVolterra: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let xy = u[0] * u[1]
        du[0] = p[0] * u[0] - p[1] * xy
        du[1] = p[3] * xy - p[2] * u[1]
        if t.primal > 2 { du[0] = S(Double.nan) }
    }
}

/// Lotka-Volterra whose right-hand side is NaN wherever `x > 2.5` (a wall in the state).
private struct StateWallLotkaVolterra: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let xy = u[0] * u[1]
        du[0] = p[0] * u[0] - p[1] * xy
        du[1] = p[3] * xy - p[2] * u[1]
        if u[0].primal > 2.5 { du[1] = S(Double.nan) }
    }
}

@Suite struct CVODESRobustnessTests {
    static let lvP = [1.5, 1.0, 3.0, 1.0]
    static let lvU0 = [1.0, 1.0]

    private func lv() -> ODEProblem<GenericRHS<LotkaVolterra, Double>> {
        ODEProblem(model: LotkaVolterra(), u0: Self.lvU0, tspan: (0, 10), p: Self.lvP)
    }

    /// Which `SensitivityError` a gradient threw, or a recorded issue when it returned.
    private func thrown<S: SensitivityAlgorithm, M: ODEModel, A: ODEAlgorithm>(
        _ sensealg: S, _ problem: ODEProblem<GenericRHS<M, Double>>, algorithm: A, options: SolveOptions,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> SensitivityError? {
        do {
            let r = try gradient(of: SumOfSquaresLoss(), problem, algorithm: algorithm, options: options, sensealg: sensealg)
            Issue.record("\(sensealg.name) returned \(r.dp) \(r.du0) instead of throwing", sourceLocation: sourceLocation)
            return nil
        } catch {
            print("\(sensealg.name): \(error)")
            return error
        }
    }

    // MARK: #14 item 1: polynomial interpolation with fewer steps between checkpoints than the order

    @Test func polynomialInterpolationRefusesFewerStepsBetweenCheckpointsThanTheOrder() throws {
        // LV with BDF at 1e-8 reaches order 5: with Nd = 2 CVodeB read past its Nd + 1 stored
        // points (valgrind: invalid 8-byte reads) and crashed; with Nd = 5 it read a point never
        // stored (valgrind: uninitialised values from CVodeAdjInit's malloc). Now Nd <= the
        // largest order is refused before any work.
        let options = SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .every(0.5))
        for (nd, maxOrder, method) in [(2, nil, CVODESMultistepMethod.bdf), (5, nil, .bdf), (12, nil, .adams), (4, 4, .bdf)] {
            let e = thrown(
                CVODESAdjoint(method: method, stepsBetweenCheckpoints: nd, interpolation: .polynomial, maxOrder: maxOrder),
                lv(), algorithm: Tsit5(), options: options)
            guard case .invalidInput(.invalidStepOption(let why)) = e else {
                Issue.record("Nd = \(nd), \(method): \(String(describing: e))")
                continue
            }
            #expect(why.contains("stepsBetweenCheckpoints"))
        }
        // From Nd = the largest order + 1 on, it runs, recomputing from checkpoints, on the 2-D
        // problem the old 1-D test of the option missed. Its error against forward mode is that
        // of the cubic Hermite interpolation with the same settings, within a factor of 2 (both
        // are set by the tolerances: 1.2e-5 to 1.7e-5 at orders 4 and 5, 2.6e-4 at order 2).
        let fd = try gradient(of: SumOfSquaresLoss(), lv(), algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        for (nd, maxOrder) in [(6, nil), (5, 4), (3, 2)] as [(Int, Int?)] {
            var errors: [Double] = []
            for interpolation in [CVODESInterpolation.polynomial, .hermite] {
                let r = try gradient(
                    of: SumOfSquaresLoss(), lv(), algorithm: Tsit5(), options: options,
                    sensealg: CVODESAdjoint(stepsBetweenCheckpoints: nd, interpolation: interpolation, maxOrder: maxOrder))
                errors.append(relativeError(r.dp + r.du0, fd.dp + fd.du0))
                print("LV \(interpolation) adjoint, Nd = \(nd), maxOrder \(maxOrder ?? 5): \(r.stats); vs ForwardDiff \(errors.last!)")
                #expect(r.stats.checkpoints > 10)
            }
            #expect(errors[0] < 2 * errors[1] && errors[0] < 1e-3)
        }
    }

    @Test func polynomialInterpolationIsAccurateWhateverTheLastIntervalHolds() throws {
        // The last checkpoint interval holds `forwardSteps mod Nd` steps: when that is below the
        // order, CVODES' polynomial lookup there also takes points left in its storage from the
        // interval before. Every Nd from 6 to 40 (so every length of the last interval) against
        // forward mode and the Hermite interpolation.
        let options = SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .every(0.5))
        let fd = try gradient(of: SumOfSquaresLoss(), lv(), algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        var worst = (nd: 0, polynomial: 0.0, hermite: 0.0)
        for nd in 6...40 {
            let e = try [CVODESInterpolation.polynomial, .hermite].map { interpolation in
                let r = try gradient(
                    of: SumOfSquaresLoss(), lv(), algorithm: Tsit5(), options: options,
                    sensealg: CVODESAdjoint(stepsBetweenCheckpoints: nd, interpolation: interpolation))
                return relativeError(r.dp + r.du0, fd.dp + fd.du0)
            }
            if e[0] > worst.polynomial { worst = (nd, e[0], e[1]) }
            #expect(e[0] < 1e-4, "Nd = \(nd): polynomial \(e[0]), Hermite \(e[1])")
        }
        print("LV polynomial adjoint over Nd = 6...40: worst error \(worst.polynomial) at Nd = \(worst.nd) (Hermite \(worst.hermite))")
    }

    // MARK: #14 item 3 and 5: a wall of NaNs

    @Test(.timeLimit(.minutes(1))) func bothCorrectorsStopAtAWallOfNaNs() throws {
        // The staggered corrector used to run CVODES' mxstep steps inside one CVode call (every
        // step ending just short of the wall; 12 s at maxiters 1e5, a hang for the fuzzer) where
        // the simultaneous one threw at once. Now both stop at the step-size floor, as CVODE_BDF
        // does. The time limit only makes a regression end; nothing is timed.
        let walls: [(String, ODEProblem<GenericRHS<NaNWallLotkaVolterra, Double>>?, ODEProblem<GenericRHS<StateWallLotkaVolterra, Double>>?)] = [
            ("t > 2", ODEProblem(model: NaNWallLotkaVolterra(), u0: Self.lvU0, tspan: (0, 10), p: Self.lvP), nil),
            ("x > 2.5", nil, ODEProblem(model: StateWallLotkaVolterra(), u0: Self.lvU0, tspan: (0, 10), p: Self.lvP)),
        ]
        for reltol in [1e-4, 1e-8] {
            let options = SolveOptions(reltol: reltol, abstol: .scalar(reltol), saveat: .every(1))
            for corrector in [CVODESCorrector.simultaneous, .staggered] {
                for (name, timeWall, stateWall) in walls {
                    let s = CVODESForward(corrector: corrector)
                    let e = timeWall.map { thrown(s, $0, algorithm: CVODE_BDF(), options: options) }
                        ?? stateWall.map { thrown(s, $0, algorithm: CVODE_BDF(), options: options) } ?? nil
                    guard case .solveFailed(_, let code, let message) = e else {
                        Issue.record("\(corrector), wall \(name), reltol \(reltol): \(String(describing: e))")
                        continue
                    }
                    #expect(code == .unstable, "\(corrector), wall \(name): \(code)")
                    #expect(message?.contains("below the resolution of t") == true, "\(message ?? "")")
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func adjointStopsAtAWallOfNaNsWithACheckpointPerStep() throws {
        // With a checkpoint per step CVodeF used to take every step maxiters allowed at the wall
        // (1e6 steps, 3 GB in the fuzzer) where CVODE_BDF stops after 41 (its step-size floor).
        let prob = ODEProblem(model: NaNWallLotkaVolterra(), u0: Self.lvU0, tspan: (0, 10), p: Self.lvP)
        let options = SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .every(1), maxiters: 1_000_000)
        let sol = try solve(prob, CVODE_BDF(), options: options)
        #expect(sol.retcode == .unstable)
        for interpolation in [CVODESInterpolation.hermite, .polynomial] {
            let e = thrown(
                CVODESAdjoint(stepsBetweenCheckpoints: interpolation == .hermite ? 1 : 6, interpolation: interpolation),
                prob, algorithm: CVODE_BDF(), options: options)
            guard case .solveFailed(_, let code, let message) = e else {
                Issue.record("\(interpolation): \(String(describing: e))")
                continue
            }
            #expect(code == .unstable)
            #expect(message?.contains("below the resolution of t") == true, "\(message ?? "")")
        }
    }

    // MARK: #14 item 5: a step-size floor longer than the span

    @Test func dtminLongerThanTheSpanIsRefusedByEveryCVODEPath() throws {
        let options = SolveOptions(saveat: .every(1), dtmin: 50, dtmax: 100)
        let expected = DiffEqError.invalidStepOption("dtmin (50.0) exceeds the length of the span (10.0): no step fits")
        #expect(throws: expected) { try solve(lv(), CVODE_BDF(), options: options) }
        #expect(throws: expected) { try solve(lv(), CVODE_Adams(), options: options) }
        for e in [
            thrown(CVODESForward(), lv(), algorithm: CVODE_BDF(), options: options),
            thrown(CVODESAdjoint(), lv(), algorithm: CVODE_BDF(), options: options),
        ] {
            #expect(e == .invalidInput(expected), "\(String(describing: e))")
        }
    }

    // MARK: #13: the algorithm argument

    @Test func cvodesFollowsTheFamilyOfACVODEAlgorithm() throws {
        let options = SolveOptions(reltol: 1e-8, abstol: .scalar(1e-8), saveat: .every(0.5))
        let loss = SumOfSquaresLoss()
        let fd = try gradient(of: loss, lv(), algorithm: Tsit5(), options: options, sensealg: ForwardDiffSensitivity())
        // CVODE_Adams used to run BDF: now it runs Adams. With Newton asked for it is the same
        // run as method: .adams (Newton, whatever the algorithm).
        let newtonAdams = CVODE_Adams(nonlinearSolver: .newton)
        let pairs: [(SensitivityResult, SensitivityResult)] = [
            (
                try gradient(of: loss, lv(), algorithm: newtonAdams, options: options, sensealg: CVODESForward()),
                try gradient(of: loss, lv(), algorithm: Tsit5(), options: options, sensealg: CVODESForward(method: .adams))
            ),
            (
                try gradient(of: loss, lv(), algorithm: newtonAdams, options: options, sensealg: CVODESAdjoint()),
                try gradient(of: loss, lv(), algorithm: Tsit5(), options: options, sensealg: CVODESAdjoint(method: .adams))
            ),
        ]
        let bdf = try gradient(of: loss, lv(), algorithm: CVODE_BDF(), options: options, sensealg: CVODESForward())
        #expect(bdf.method == "CVODESForward(BDF)")
        for (followed, explicit) in pairs {
            #expect(followed.method.hasSuffix("(Adams)"), "\(followed.method)")
            #expect(followed.dp == explicit.dp && followed.du0 == explicit.du0)
            #expect(followed.stats.forwardSteps == explicit.stats.forwardSteps)
            #expect(relativeError(followed.dp + followed.du0, fd.dp + fd.du0) < 1e-4)
        }
        #expect(pairs[0].0.stats.forwardSteps != bdf.stats.forwardSteps)
        // The algorithm's maxOrder carries over where the sensealg leaves its own nil.
        let order2 = try gradient(
            of: loss, lv(), algorithm: CVODE_Adams(maxOrder: 2, nonlinearSolver: .newton), options: options,
            sensealg: CVODESForward())
        let explicit2 = try gradient(
            of: loss, lv(), algorithm: Tsit5(), options: options, sensealg: CVODESForward(method: .adams, maxOrder: 2))
        #expect(order2.dp == explicit2.dp && order2.stats.forwardSteps == explicit2.stats.forwardSteps)
        // CVODE_Adams() with its default fixed-point corrector: no Jacobian at all, forward and
        // adjoint, and the gradients agree with forward mode.
        let fixedPoint = try gradient(of: loss, lv(), algorithm: CVODE_Adams(), options: options, sensealg: CVODESForward())
        let adjointFixedPoint = try gradient(
            of: loss, lv(), algorithm: CVODE_Adams(), options: options, sensealg: CVODESAdjoint())
        print("LV Adams fixed point: \(fixedPoint.stats); Newton: \(pairs[0].0.stats); adjoint fixed point: \(adjointFixedPoint.stats)")
        for r in [fixedPoint, adjointFixedPoint] {
            #expect(r.method.hasSuffix("(Adams)"))
            #expect(r.stats.jacobians == 0)
            #expect(relativeError(r.dp + r.du0, fd.dp + fd.du0) < 1e-4)
        }
        #expect(pairs[0].0.stats.jacobians > 0)
        let staggered = try gradient(
            of: loss, lv(), algorithm: CVODE_Adams(), options: options, sensealg: CVODESForward(corrector: .staggered))
        #expect(staggered.stats.jacobians == 0)
        #expect(relativeError(staggered.dp + staggered.du0, fd.dp + fd.du0) < 1e-4)
        // Constraints are refused rather than dropped.
        let constrained = thrown(
            CVODESForward(), lv(), algorithm: CVODE_BDF(constraints: [.nonNegative, .nonNegative]), options: options)
        guard case .unsupported = constrained else {
            Issue.record("constraints: \(String(describing: constrained))")
            return
        }
        // So is a linear solver CVODES' runs here would not apply.
        let krylov = thrown(
            CVODESForward(), lv(), algorithm: CVODE_BDF(linearSolver: .gmres(CVODEKrylov())), options: options)
        guard case .unsupported = krylov else {
            Issue.record("linearSolver: \(String(describing: krylov))")
            return
        }
        // A contradiction is refused with a message.
        for e in [
            thrown(CVODESForward(method: .bdf), lv(), algorithm: CVODE_Adams(), options: options),
            thrown(CVODESAdjoint(method: .adams), lv(), algorithm: CVODE_BDF(), options: options),
        ] {
            guard case .invalidInput(.invalidStepOption(let why)) = e else {
                Issue.record("\(String(describing: e))")
                continue
            }
            #expect(why.contains("contradicts"))
        }
    }
}
