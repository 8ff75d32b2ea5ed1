import Testing
@testable import DiffEqCore

private func decay(u0: [Double] = [1.0], tspan: (Double, Double) = (0, 1)) -> ODEProblem<ClosureRHS<Double>> {
    ODEProblem(f: { du, u, p, t in du[0] = -u[0] }, u0: u0, tspan: tspan)
}

@Suite struct ValidationTests {
    @Test func validSetupResolvesEverything() throws {
        let setup = try SolveSetup(decay(), SolveOptions(reltol: 1e-6, abstol: 1e-8, saveat: .every(0.25)))
        #expect(setup.saveTimes == [0, 0.25, 0.5, 0.75, 1])
        #expect(setup.abstol == [1e-8])
        #expect(!setup.saveEverystep && !setup.dense)
    }

    @Test func emptyOrNonFiniteTimeSpanThrows() {
        #expect(throws: DiffEqError.invalidTimeSpan(t0: 1, t1: 1)) { try SolveSetup(decay(tspan: (1, 1)), .init()) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(tspan: (0, .nan)), .init()) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(tspan: (0, .infinity)), .init()) }
    }

    @Test func badTolerancesThrow() {
        #expect(throws: DiffEqError.invalidRelativeTolerance(-1)) { try SolveSetup(decay(), .init(reltol: -1)) }
        #expect(throws: DiffEqError.invalidRelativeTolerance(0)) { try SolveSetup(decay(), .init(reltol: 0)) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(reltol: .nan)) }
        #expect(throws: DiffEqError.invalidAbsoluteTolerance(component: 0, value: 0)) {
            try SolveSetup(decay(), .init(abstol: 0))
        }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(abstol: .scalar(.nan))) }
        #expect(throws: DiffEqError.dimensionMismatch(what: "abstol", expected: 1, got: 2)) {
            try SolveSetup(decay(), .init(abstol: [1e-6, 1e-6]))
        }
    }

    @Test func saveatOutsideSpanThrows() {
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(saveat: .times([0.5, 2]))) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(saveat: .times([-0.1]))) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(saveat: .every(0))) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(saveat: .every(-1))) }
    }

    /// Regression: a `saveat` step that gives more points than an Int holds (span 1 with step
    /// 1e-300), or an infinite number of them (a span whose length overflows to Inf), trapped in
    /// the conversion to Int instead of throwing.
    @Test func saveatWithTooManyPointsThrowsInsteadOfTrapping() {
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(saveat: .every(1e-300))) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(tspan: (0, 1e300)), .init(saveat: .every(1e-10))) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(tspan: (-1e308, 1e308)), .init(saveat: .every(1))) }
    }

    @Test func badStepOptionsThrow() {
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(dt: 0)) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(dt: .nan)) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(dtmin: -1)) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(dtmax: 0)) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(maxiters: 0)) }
        #expect(throws: DiffEqError.self) { try SolveSetup(decay(), .init(adaptive: false)) }
    }

    @Test func nonFiniteOrEmptyInitialStateThrows() {
        #expect(throws: DiffEqError.nonFiniteInitialState(component: 0)) { try SolveSetup(decay(u0: [.nan]), .init()) }
        #expect(throws: DiffEqError.emptyState) { try SolveSetup(decay(u0: []), .init()) }
    }

    @Test func backwardSpanSortsSaveTimesBackward() throws {
        let setup = try SolveSetup(decay(tspan: (1, 0)), .init(saveat: .times([0.2, 0.9, 0.5])))
        #expect(setup.direction == -1)
        #expect(setup.saveTimes == [0.9, 0.5, 0.2])
        let every = try SolveSetup(decay(tspan: (1, 0)), .init(saveat: .every(0.5)))
        #expect(every.saveTimes == [1, 0.5, 0])
    }

    @Test func tstopsOutsideTheSpanAreIgnored() throws {
        let setup = try SolveSetup(decay(), .init(tstops: [0.7, -1, 0.3, 5, 1]))
        #expect(setup.tstops == [0.3, 0.7])
    }

    /// A stop given twice is one stop (a copy would ask the loop for a step of length zero),
    /// in either direction of integration.
    @Test func repeatedTstopsAreOneStop() throws {
        let forward = try SolveSetup(decay(), .init(tstops: [0.7, 0.3, 0.7, 0.3, 0.3]))
        #expect(forward.tstops == [0.3, 0.7])
        let inOrder = try SolveSetup(decay(), .init(tstops: [0.3, 0.3, 0.7]))
        #expect(inOrder.tstops == [0.3, 0.7])
        let backward = try SolveSetup(decay(tspan: (1, 0)), .init(tstops: [0.3, 0.7, 0.3]))
        #expect(backward.tstops == [0.7, 0.3])
    }

    @Test func parameterDependentInitialStateAndSpan() throws {
        let prob = ODEProblem(
            ClosureRHS<Double> { du, u, p, t in du[0] = p[0] * u[0] },
            u0: { p, t0 in [p[1] + t0] }, tspan: { p in (p[2], p[3]) }, p: [-1, 2, 0.5, 3])
        let setup = try SolveSetup(prob, .init())
        #expect(setup.u0 == [2.5])
        #expect(setup.t0 == 0.5 && setup.t1 == 3)
        let moved = prob.remake(p: [-1, 4, 1, 2])
        #expect(moved.resolvedInitialState() == [5])
        #expect(moved.resolvedTimeSpan() == (1, 2))
        let fixed = prob.remake(u0: [7], tspan: (0, 1))
        #expect(fixed.resolvedInitialState() == [7])
    }
}

@Suite struct ScalarTests {
    @Test func integerPowerIsExactForNegativeBases() {
        #expect(Double.pow(-2.0, 3) == -8)
        #expect(Double.pow(2.0, -2) == 0.25)
        #expect(Float.pow(Float(-3), 2) == 9)
    }

    @Test func genericFunctionsForwardToLibm() {
        func g<S: DiffEqScalar>(_ x: S) -> S { exp(x) * sin(x) + sqrt(abs(x)) - tanh(x) / pow(x, 2) }
        let x = 0.7
        let expected = Foundation_exp(x) * Foundation_sin(x) + x.squareRoot() - Foundation_tanh(x) / (x * x)
        #expect(abs(g(x) - expected) < 1e-15)
        #expect(abs(Double(g(Float(x))) - expected) < 1e-5)
    }
}

import Glibc
private func Foundation_exp(_ x: Double) -> Double { Glibc.exp(x) }
private func Foundation_sin(_ x: Double) -> Double { Glibc.sin(x) }
private func Foundation_tanh(_ x: Double) -> Double { Glibc.tanh(x) }
