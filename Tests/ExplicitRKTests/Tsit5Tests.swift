import Glibc
import Testing
import DiffEqCore
@testable import ExplicitRK
import ProblemLibrary

/// u' = λu, u(0) = 1: u(t) = exp(λt).
private func linear(_ lambda: Double = -0.7, tspan: (Double, Double) = (0, 2)) -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(f: { du, u, p, t in du[0] = p[0] * u[0] }, u0: [1.0], tspan: tspan, p: [lambda])
}

/// Observed order from the errors of successive dt halvings (log2 of error ratios), averaged.
func observedOrder(_ errors: [Double]) -> Double {
    let orders = zip(errors, errors.dropFirst()).map { Glibc.log2($0 / $1) }
    return orders.reduce(0, +) / Double(orders.count)
}

@Suite struct Tsit5Tests {
    @Test func tableauIsConsistent() {
        let t = ButcherTableau.tsit5
        #expect(t.stages == 7 && t.isFSAL && t.order == 5)
    }

    @Test func matchesAnalyticSolution() throws {
        let sol = try solve(linear(), Tsit5(), reltol: 1e-10, abstol: 1e-12)
        #expect(sol.retcode == .success)
        #expect(sol.t.last == 2)
        let err = abs(sol.u.last![0] - exp(-1.4))
        #expect(err < 1e-10)
        #expect(sol.stats.naccept > 0 && sol.stats.nf > 6 * sol.stats.naccept)
    }

    @Test func fixedStepConvergenceOrderIsFive() throws {
        // u' = cos(t) u, u(0) = 1 on [0, 100]: u = exp(sin t). (On u' = λu Tsit5's sixth-order
        // term nearly vanishes too, so the asymptotic regime arrives only near rounding.)
        let prob = ODEProblem(f: { du, u, p, t in du[0] = cos(t) * u[0] }, u0: [1.0], tspan: (0, 100))
        var errors: [Double] = []
        for k in 0..<7 {
            let dt = 0.25 / Double(1 << k)
            let sol = try solve(prob, Tsit5(), dt: dt, adaptive: false)
            errors.append(abs(sol.u.last![0] - exp(sin(100.0))))
        }
        let order = observedOrder(errors)
        #expect(abs(order - 5) < 0.2, "observed order \(order), errors \(errors)")
    }

    @Test func denseOutputConvergesAtOrderFour() throws {
        // The interpolant's error at mid-step points shrinks like dt^(4+1) locally; measured
        // over a fixed interval it is the global order of the interpolant, 4 (or better).
        var errors: [Double] = []
        for k in 0..<6 {
            let dt = 0.5 / Double(1 << k)
            let sol = try solve(linear(-2, tspan: (0, 2)), Tsit5(), dt: dt, adaptive: false)
            var worst = 0.0
            for i in 0..<40 {
                let t = (Double(i) + 0.37) * 0.05
                worst = max(worst, abs(try sol(t)[0] - exp(-2 * t)))
            }
            errors.append(worst)
        }
        let order = observedOrder(errors)
        #expect(order > 3.8, "observed dense-output order \(order), errors \(errors)")
    }

    @Test func interpolationIsAccurateOnAdaptiveSolve() throws {
        let sol = try solve(linear(), Tsit5(), reltol: 1e-8, abstol: 1e-10)
        for t in stride(from: 0.0, through: 2.0, by: 0.013) {
            #expect(abs(try sol(t)[0] - exp(-0.7 * t)) < 1e-7)
        }
        #expect(throws: InterpolationError.self) { try sol(2.5) }
    }

    @Test func saveatMatchesDenseOutputAndAnalytic() throws {
        let sol = try solve(linear(), Tsit5(), reltol: 1e-9, abstol: 1e-11, saveat: .every(0.1))
        #expect(sol.t.count == 21)
        for (t, u) in zip(sol.t, sol.u) { #expect(abs(u[0] - exp(-0.7 * t)) < 1e-8) }
        #expect(throws: InterpolationError.noDenseOutput) { try sol(0.5) }
        let at = try solve(linear(), Tsit5(), reltol: 1e-9, abstol: 1e-11, saveat: .times([1.5, 0.25]))
        #expect(at.t == [0.25, 1.5])
    }

    @Test func backwardInTime() throws {
        let sol = try solve(linear(-0.7, tspan: (2, 0)), Tsit5(), reltol: 1e-10, abstol: 1e-12)
        #expect(sol.retcode == .success)
        #expect(sol.t.last == 0)
        // u(2) = 1, so u(0) = exp(0.7 * 2).
        #expect(abs(sol.u.last![0] - exp(1.4)) < 1e-8)
        #expect(abs(try sol(1.0)[0] - exp(0.7)) < 1e-7)
    }

    @Test func tstopsAreHitExactly() throws {
        let sol = try solve(linear(), Tsit5(), tstops: [0.123456, 1.7])
        #expect(sol.t.contains(0.123456) && sol.t.contains(1.7))
    }

    @Test func maxitersAndDtmin() throws {
        let sol = try solve(linear(), Tsit5(), reltol: 1e-12, abstol: 1e-14, maxiters: 5)
        #expect(sol.retcode == .maxIters)
        #expect(sol.t.count >= 2 && sol.message != nil)
        // A blow-up in finite time: u' = u², u(0) = 1 explodes at t = 1.
        let blowup = ODEProblem(f: { du, u, p, t in du[0] = u[0] * u[0] }, u0: [1.0], tspan: (0, 2))
        let b = try solve(blowup, Tsit5())
        #expect(!b.retcode.isSuccessful)
        #expect(b.t.last! < 1.0 && b.t.last! > 0.99)
    }

    @Test func nanFromRightHandSideIsUnstable() throws {
        let bad = ODEProblem(f: { du, u, p, t in du[0] = t > 0.5 ? .nan : -u[0] }, u0: [1.0], tspan: (0, 1))
        let sol = try solve(bad, Tsit5())
        #expect(sol.retcode == .unstable)
        #expect(sol.t.last! <= 0.5)
        #expect(sol.message?.contains("NaN") == true)
    }

    @Test func floatStateWorks() throws {
        let prob = ODEProblem(model: LotkaVolterra(), u0: [Float(1), 1], tspan: (0, 1), p: [1.5, 1, 3, 1])
        let f = try solve(prob, Tsit5(), reltol: 1e-5, abstol: 1e-6)
        let d = try solve(TestProblems.lotkaVolterra().remake(tspan: (0, 1)), Tsit5(), reltol: 1e-10, abstol: 1e-12)
        #expect(f.retcode == .success)
        for i in 0..<2 { #expect(abs(Double(f.u.last![i]) - d.u.last![i]) < 1e-4) }
    }

    @Test func integratorSteppingAndStateChange() throws {
        var integ = try Tsit5().makeIntegrator(linear(), options: .init(reltol: 1e-8, abstol: 1e-10))
        var steps = 0
        while integ.t < 1, integ.step() { steps += 1 }
        #expect(steps > 1 && integ.retcode == nil)
        // Change the state: the method restarts from the new value.
        let t1 = integ.t
        integ.u = [2.0]
        while integ.step() {}
        #expect(integ.retcode == .success)
        #expect(abs(integ.u[0] - 2 * exp(-0.7 * (2 - t1))) < 1e-7)
    }

    /// The written-out Tsit5 stage loop (`Kernel.tsit5`) must give bit for bit what the generic
    /// tableau loop gives: every step's time and state, the counters, the stiffness estimate
    /// (AutoTsit5 reads it) and the dense output (built from the stages).
    @Test(arguments: [1e-4, 1e-7, 1e-10])
    func writtenOutKernelMatchesGenericLoopBitwise(tol: Double) throws {
        let prob = TestProblems.lorenz(tEnd: 5)
        let options = SolveOptions(reltol: tol, abstol: .scalar(tol))
        let n = 3
        var fused = ExplicitRKStepper<GenericRHS<Lorenz, Double>>(tableau: .tsit5, count: n)
        var generic = fused
        generic.kernel = .generic
        #expect(fused.kernel == .tsit5)
        fused.tracksStiffness = true
        generic.tracksStiffness = true
        var a = try ODEIntegrator(prob, stepper: fused, options: options)
        var b = try ODEIntegrator(prob, stepper: generic, options: options)
        while true {
            let (moreA, moreB) = (a.step(), b.step())
            #expect(moreA == moreB)
            #expect(a.t.bitPattern == b.t.bitPattern)
            #expect(a.u.map(\.bitPattern) == b.u.map(\.bitPattern))
            #expect(a.method.stiffnessEstimate.bitPattern == b.method.stiffnessEstimate.bitPattern)
            if !moreA || !moreB || a.t != b.t { break }
        }
        #expect(a.stats == b.stats)
        let (solA, solB) = (a.solution, b.solution)
        for t in stride(from: 0.0, through: 5.0, by: 0.0373) {
            #expect(try solA(t).map(\.bitPattern) == solB(t).map(\.bitPattern))
        }
    }

    /// A tableau is run by the written-out loop exactly when its coefficients are Tsit5's.
    @Test func writtenOutKernelIsChosenByCoefficients() throws {
        #expect(ExplicitRKStepper<ClosureRHS<Double>>(tableau: .tsit5, count: 2).kernel == .tsit5)
        #expect(ExplicitRKStepper<ClosureRHS<Double>>(tableau: DP5().tableau, count: 2).kernel == .generic)
    }
}
