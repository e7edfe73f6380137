//! Who may read reports, the module switch, and the checks on query parameters.

use kasir_tests::{create_user, login, login_owner, provision_tenant_with, server};
use serde_json::json;

use crate::{api, expect_invalid, report_shop, trading_day, WIB};

#[test]
fn kasir_may_not_read_reports() {
    let shop = report_shop("accasir");
    let day = trading_day(WIB).to_string();

    let daily = shop.daily(&shop.sari, &day, &[]);
    let daily_csv = shop.daily(&shop.sari, &day, &[("format", "csv")]);
    let summary = shop.summary(&shop.sari, &day, &day, &[]);

    daily.expect_error(403, "forbidden");
    daily_csv.expect_error(403, "forbidden");
    summary.expect_error(403, "forbidden");
}

#[test]
fn admin_may_read_reports() {
    let shop = report_shop("acadmin");
    let admin_user = create_user(&api(), &shop.owner, "admin", "Admin Toko");
    let admin = login(&api(), &shop.tenant.code, &admin_user.email, &admin_user.password, None);
    let day = trading_day(WIB).to_string();

    shop.daily(&admin, &day, &[]).expect_status(200);
    shop.summary(&admin, &day, &day, &[]).expect_status(200);
}

#[test]
fn reports_need_a_token() {
    let day = trading_day(WIB).to_string();

    let response = api().get("/v1/reports/daily").query("date", &day).send();

    response.expect_error(401, "unauthorized");
}

#[test]
fn disabled_reports_module_is_forbidden() {
    let api = api();
    let tenant = provision_tenant_with(
        &api,
        &server().admin_token,
        "acmodule",
        json!({"placement": "shared", "modules": ["catalog", "sales"]}),
    );
    let owner = login_owner(&api, &tenant, None);
    let day = trading_day(WIB).to_string();

    let response = api
        .get("/v1/reports/daily")
        .bearer(&owner.access_token)
        .query("date", &day)
        .send();

    response.expect_error(403, "module_disabled");
}

#[test]
fn daily_date_is_required() {
    let shop = report_shop("acdatereq");

    let response = shop.daily(&shop.owner, "", &[]);

    expect_invalid(&response, "date", "required");
}

#[test]
fn daily_rejects_malformed_dates() {
    let shop = report_shop("acdatebad");

    for date in [
        "2025-13-01",
        "2025-02-30",
        "14-11-2025",
        "2025-11-4",
        "2025-11-14T00:00:00Z",
        "kemarin",
    ] {
        let response = shop.daily(&shop.owner, date, &[]);

        expect_invalid(&response, "date", "invalid_format");
    }
}

#[test]
fn malformed_outlet_id_is_rejected() {
    let shop = report_shop("acoutlet");
    let day = trading_day(WIB).to_string();

    let response = shop.daily(&shop.owner, &day, &[("outlet_id", "pusat")]);

    expect_invalid(&response, "outlet_id", "invalid_format");
}

#[test]
fn unknown_format_is_rejected() {
    let shop = report_shop("acformat");
    let day = trading_day(WIB).to_string();

    let daily = shop.daily(&shop.owner, &day, &[("format", "xlsx")]);
    let summary = shop.summary(&shop.owner, &day, &day, &[("format", "pdf")]);

    expect_invalid(&daily, "format", "invalid_format");
    expect_invalid(&summary, "format", "invalid_format");
}

#[test]
fn every_bad_parameter_is_reported() {
    let shop = report_shop("acevery");

    let response = shop.daily(&shop.owner, "2025-99-99", &[("outlet_id", "x"), ("format", "xml")]);

    expect_invalid(&response, "date", "invalid_format");
    expect_invalid(&response, "outlet_id", "invalid_format");
    expect_invalid(&response, "format", "invalid_format");
}
