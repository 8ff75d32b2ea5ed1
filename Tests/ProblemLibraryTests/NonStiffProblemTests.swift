import DiffEqCore
import ProblemLibrary
import Testing

@Suite struct NonStiffProblemTests {
    // MARK: DETEST

    /// The closed forms satisfy their ODE: a central difference of `y(t)` equals `f(y(t))`.
    @Test func detestAnalyticSolutionsSatisfyTheirODEs() {
        func residuals<M: ODEModel>(_ model: M, _ y: (Double) -> [Double]) -> [Double] {
            [0, 0.5, 1, 3, 7.5, 12, 20].map { t in
                let h = 1e-4
                let derivative = (y(t + h)[0] - y(t - h)[0]) / (2 * h)
                var du = [0.0]
                model.rhs(&du, y(t), [], t)
                return abs(derivative - du[0]) / abs(du[0])
            }
        }
        for r in residuals(DetestA2(), DetestA2().analytic) { #expect(r < 1e-7) }
        for r in residuals(DetestA4(), DetestA4().analytic) { #expect(r < 1e-7) }
    }

    @Test func detestProblemsStartAtTheirClosedForms() {
        let a2 = TestProblems.detestA2(), a4 = TestProblems.detestA4()
        #expect(a2.resolvedInitialState() == DetestA2().analytic(0))
        #expect(a4.resolvedInitialState() == DetestA4().analytic(0))
        #expect(a2.resolvedTimeSpan() == (0, 20) && a4.resolvedTimeSpan() == (0, 20))
        #expect(abs(TestProblems.detestA2Reference.u[0] - 0.218217890235992381266097) < 1e-15)  // 1/√21
        #expect(abs(TestProblems.detestA4Reference.u[0] - 17.7301664813148398) < 1e-13)  // 20/(1+19e⁻⁵)
    }

    // MARK: Arenstorf

    /// Without integrating: the published initial state is the start of a symmetric periodic
    /// orbit (on the x-axis, moving perpendicular to it, under a time-reversible field), and the
    /// reference is that state after the published period.
    @Test func arenstorfInitialStateIsConsistentWithThePublishedPeriod() {
        let problem = TestProblems.arenstorf()
        let u0 = problem.resolvedInitialState()
        #expect(u0 == [0.994, 0, 0, -2.00158510637908252240537862224])
        #expect(problem.p == [0.012277471])
        #expect(problem.resolvedTimeSpan() == (0, 17.0652165601579625588917206249))
        #expect(TestProblems.arenstorfReference.t == TestProblems.arenstorfPeriod)
        #expect(TestProblems.arenstorfReference.u == u0)

        // Perpendicular crossing of the axis of symmetry: y₂ = 0, y₁′ = 0, hence y₂″ = 0.
        var du = [Double](repeating: 0, count: 4)
        Arenstorf().rhs(&du, u0, problem.p, 0)
        #expect(du[0] == 0 && du[3] == 0)
        #expect(du[1] == u0[3])

        // Reversibility f(Ru) = −R f(u), R = diag(1, −1, −1, 1): such an orbit is periodic.
        let m = Models.named("Arenstorf")
        for u in m.states {
            let reflect = { (v: [Double]) in [v[0], -v[1], -v[2], v[3]] }
            let lhs = m.rhs(reflect(u), m.p)
            let rhs = reflect(m.rhs(u, m.p)).map { -$0 }
            for i in 0..<4 { #expect(abs(lhs[i] - rhs[i]) <= 1e-14 * max(1, abs(rhs[i]))) }
        }
    }

    @Test func arenstorfJacobiIntegralIsConservedByTheField() {
        let m = Models.named("Arenstorf")
        for u in m.states + [TestProblems.arenstorf().resolvedInitialState()] {
            let f = m.rhs(u, m.p)
            let h = 1e-6
            let plus = zip(u, f).map { $0 + h * $1 }, minus = zip(u, f).map { $0 - h * $1 }
            let rate =
                (Arenstorf.jacobiIntegral(plus, m.p) - Arenstorf.jacobiIntegral(minus, m.p)) / (2 * h)
            let size = sumOfMagnitudes(f) * max(1, Swift.abs(Arenstorf.jacobiIntegral(u, m.p)))
            #expect(abs(rate) <= 1e-6 * size, "dC/dt = \(rate)")
        }
    }

    // MARK: Pleiades

    @Test func pleiadesSettingsArePublished() {
        let problem = TestProblems.pleiades()
        let u0 = problem.resolvedInitialState()
        #expect(Array(u0[0..<7]) == [3, 3, -1, -3, 2, -2, 2])
        #expect(Array(u0[7..<14]) == [3, -3, 2, 0, 0, -4, 4])
        #expect(Array(u0[14..<21]) == [0, 0, 0, 0, 0, 1.75, -1.5])
        #expect(Array(u0[21..<28]) == [0, 0, 0, -1.25, 1, 0, 0])
        #expect(problem.p == [1, 2, 3, 4, 5, 6, 7])
        #expect(problem.resolvedTimeSpan() == (0, 3))
        #expect(TestProblems.pleiadesReference.t == 3 && TestProblems.pleiadesReference.u.count == 28)
        #expect(TestProblems.pleiadesInfo.scdComponents == 0..<14)
    }

    /// Newton's third law (Σ mᵢ aᵢ = 0) and conservation of energy along the field.
    @Test func pleiadesConservesMomentumAndEnergy() {
        let m = Models.named("Pleiades")
        for u in m.states + [TestProblems.pleiades().resolvedInitialState()] {
            let f = m.rhs(u, m.p)
            var px = 0.0, py = 0.0, scale = 0.0
            for i in 0..<7 {
                px += m.p[i] * f[14 + i]
                py += m.p[i] * f[21 + i]
                scale += m.p[i] * (abs(f[14 + i]) + abs(f[21 + i]))
            }
            #expect(abs(px) <= 1e-14 * scale && abs(py) <= 1e-14 * scale)

            let h = 1e-6
            let plus = zip(u, f).map { $0 + h * $1 }, minus = zip(u, f).map { $0 - h * $1 }
            let rate = (Pleiades.energy(plus, m.p) - Pleiades.energy(minus, m.p)) / (2 * h)
            var power = 0.0  // Σ mᵢ |vᵢ·aᵢ|, the size of the terms of dE/dt
            for i in 0..<14 { power += m.p[i % 7] * Swift.abs(u[14 + i] * f[14 + i]) }
            #expect(abs(rate) <= 1e-6 * max(power, 1), "dE/dt = \(rate)")
        }
    }
}
