//! Catalog of the demo bakery-café: every item name of the bakery POS log
//! (96 distinct names) mapped to an Indonesian product name, a category and a
//! price in whole rupiah.
//!
//! The prices are invented for the demo, in the range of a Jakarta bakery-café.

/// One catalog product and the POS log item name it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogItem {
    /// Item name as written in the POS log, without surrounding spaces.
    pub log_name: &'static str,
    /// Indonesian product name shown on receipts.
    pub name: &'static str,
    /// Category name; one of [`CATEGORIES`].
    pub category: &'static str,
    /// Unit price in whole rupiah.
    pub price: i64,
}

/// Category names, in the order the demo creates them.
pub const CATEGORIES: [&str; 9] = [
    "Roti",
    "Kue",
    "Pastri",
    "Minuman",
    "Makanan",
    "Camilan",
    "Kemasan",
    "Suvenir",
    "Lain-lain",
];

const fn item(log_name: &'static str, name: &'static str, category: &'static str, price: i64) -> CatalogItem {
    CatalogItem {
        log_name,
        name,
        category,
        price,
    }
}

/// Every item of the POS log, most sold first.
pub const ITEMS: [CatalogItem; 96] = [
    item("Coffee", "Kopi Susu", "Minuman", 22_000),
    item("Bread", "Roti Tawar", "Roti", 18_000),
    item("Tea", "Teh Melati", "Minuman", 12_000),
    item("Cake", "Kue Potong", "Kue", 25_000),
    item("Pastry", "Pastri Mentega", "Pastri", 20_000),
    item("Sandwich", "Roti Lapis", "Makanan", 32_000),
    item("Puff", "Kue Sus", "Pastri", 12_000),
    item("Medialuna", "Medialuna Manis", "Pastri", 15_000),
    item("Hot chocolate", "Cokelat Panas", "Minuman", 25_000),
    item("Cookies", "Kue Kering", "Kue", 15_000),
    item("Brownie", "Brownies Cokelat", "Kue", 18_000),
    item("Farm House", "Roti Gandum Desa", "Roti", 28_000),
    item("Muffin", "Muffin Pisang", "Kue", 17_000),
    item("Juice", "Jus Jeruk", "Minuman", 20_000),
    item("Alfajores", "Kue Alfajores", "Kue", 14_000),
    item("Soup", "Sup Krim Jagung", "Makanan", 28_000),
    item("Scone", "Skon Kismis", "Pastri", 16_000),
    item("Toast", "Roti Bakar", "Roti", 16_000),
    item("Scandinavian", "Roti Kayu Manis Skandinavia", "Pastri", 22_000),
    item("Truffles", "Truffle Cokelat", "Camilan", 12_000),
    item("Coke", "Minuman Soda Kola", "Minuman", 10_000),
    item("Spanish Brunch", "Sarapan Ala Spanyol", "Makanan", 55_000),
    item("Fudge", "Fudge Karamel", "Camilan", 12_000),
    item("Baguette", "Roti Baguette", "Roti", 24_000),
    item("Jam", "Selai Stroberi", "Kemasan", 35_000),
    item("Tiffin", "Kue Tiffin Cokelat", "Kue", 16_000),
    item("Mineral water", "Air Mineral", "Minuman", 6_000),
    item("Jammie Dodgers", "Biskuit Isi Selai", "Camilan", 10_000),
    item("Chicken Stew", "Semur Ayam", "Makanan", 38_000),
    item("Hearty & Seasonal", "Menu Musiman", "Makanan", 45_000),
    item("Salad", "Salad Sayur", "Makanan", 30_000),
    item("Frittata", "Frittata Bayam", "Makanan", 32_000),
    item("Smoothies", "Smoothie Buah", "Minuman", 28_000),
    item("Keeping It Local", "Paket Sarapan Lokal", "Makanan", 48_000),
    item("The Nomad", "Paket Nomad", "Makanan", 42_000),
    item("Vegan mincepie", "Pai Buah Vegan", "Kue", 20_000),
    item("Focaccia", "Roti Focaccia", "Roti", 26_000),
    item("Bakewell", "Tart Almond Bakewell", "Kue", 22_000),
    item("Tartine", "Roti Tartine Isi", "Makanan", 30_000),
    item("Afternoon with the baker", "Paket Teh Sore", "Makanan", 75_000),
    item("Extra Salami or Feta", "Tambahan Salami atau Feta", "Makanan", 12_000),
    item("Art Tray", "Nampan Lukis", "Suvenir", 85_000),
    item("Granola", "Granola Madu", "Kemasan", 45_000),
    item("Eggs", "Telur Orak-arik", "Makanan", 18_000),
    item("Tshirt", "Kaos Roti Senja", "Suvenir", 95_000),
    item("My-5 Fruit Shoot", "Minuman Buah Anak", "Minuman", 9_000),
    item("Ella's Kitchen Pouches", "Bubur Buah Bayi", "Kemasan", 25_000),
    item("Vegan Feast", "Paket Hidangan Vegan", "Makanan", 55_000),
    item("Crisps", "Keripik Kentang", "Camilan", 12_000),
    item("Valentine's card", "Kartu Valentine", "Suvenir", 15_000),
    item("Dulce de Leche", "Selai Karamel Susu", "Kemasan", 40_000),
    item("Pick and Mix Bowls", "Mangkuk Permen Campur", "Camilan", 20_000),
    item("Kids biscuit", "Biskuit Anak", "Camilan", 8_000),
    item("Duck egg", "Telur Bebek Rebus", "Makanan", 12_000),
    item("Tacos/Fajita", "Taco Ayam", "Makanan", 38_000),
    item("Mighty Protein", "Mangkuk Protein", "Makanan", 45_000),
    item("Christmas common", "Kue Natal", "Kue", 30_000),
    item("Postcard", "Kartu Pos", "Suvenir", 10_000),
    item("Chocolates", "Cokelat Praline", "Camilan", 35_000),
    item("Gingerbread syrup", "Sirup Jahe", "Kemasan", 45_000),
    item("Nomad bag", "Tas Kanvas Nomad", "Suvenir", 75_000),
    item("Muesli", "Muesli Buah", "Makanan", 30_000),
    item("Drinking chocolate spoons", "Sendok Cokelat Seduh", "Kemasan", 18_000),
    item("Victorian Sponge", "Bolu Victoria", "Kue", 28_000),
    item("Empanadas", "Panada", "Pastri", 15_000),
    item("Coffee granules", "Kopi Bubuk Instan", "Kemasan", 55_000),
    item("Argentina Night", "Paket Malam Argentina", "Makanan", 120_000),
    item("Pintxos", "Pintxos Tusuk", "Makanan", 25_000),
    item("Lemon and coconut", "Kue Lemon Kelapa", "Kue", 22_000),
    item("Honey", "Madu Hutan", "Kemasan", 65_000),
    item("Half slice Monster", "Setengah Potong Kue Monster", "Kue", 15_000),
    item("Crepes", "Crepes Cokelat Pisang", "Pastri", 25_000),
    item("Basket", "Keranjang Rotan", "Suvenir", 60_000),
    item("Panatone", "Roti Panettone", "Roti", 95_000),
    item("Mortimer", "Kue Mortimer", "Kue", 20_000),
    item("Bare Popcorn", "Berondong Jagung", "Camilan", 15_000),
    item("Bread Pudding", "Puding Roti", "Kue", 18_000),
    item("Soap", "Sabun Buatan Tangan", "Suvenir", 35_000),
    item(
        "Raspberry shortbread sandwich",
        "Kue Mentega Isi Raspberi",
        "Kue",
        14_000,
    ),
    item("Cherry me Dried fruit", "Ceri Kering", "Camilan", 25_000),
    item("Caramel bites", "Camilan Karamel", "Camilan", 12_000),
    item("Brioche and salami", "Roti Brioche Salami", "Makanan", 30_000),
    item("Spread", "Selai Cokelat Oles", "Kemasan", 40_000),
    item("Siblings", "Paket Kakak Adik", "Makanan", 50_000),
    item("Hack the stack", "Tumpukan Panekuk", "Makanan", 40_000),
    item("Fairy Doors", "Pintu Peri Hiasan", "Suvenir", 45_000),
    item("Chimichurri Oil", "Minyak Chimichurri", "Kemasan", 45_000),
    item("Bowl Nic Pitt", "Mangkuk Keramik Nic Pitt", "Suvenir", 120_000),
    item("The BART", "Roti Lapis BART", "Makanan", 40_000),
    item("Raw bars", "Batang Buah Mentah", "Camilan", 18_000),
    item("Polenta", "Polenta Panggang", "Makanan", 25_000),
    item("Olum & polenta", "Kue Plum Polenta", "Kue", 25_000),
    item("Gift voucher", "Voucher Hadiah", "Lain-lain", 50_000),
    item("Chicken sand", "Roti Lapis Ayam", "Makanan", 35_000),
    item("Bacon", "Tambahan Daging Asap", "Makanan", 15_000),
    item("Adjustment", "Penyesuaian Kasir", "Lain-lain", 5_000),
];

/// Finds the catalog item for a POS log item name, ignoring surrounding
/// spaces in `log_name`.
pub fn find_item(log_name: &str) -> Option<&'static CatalogItem> {
    let log_name = log_name.trim();
    ITEMS.iter().find(|item| item.log_name == log_name)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{find_item, CATEGORIES, ITEMS};

    #[test]
    fn catalog_names_are_unique() {
        let log_names: HashSet<_> = ITEMS.iter().map(|item| item.log_name).collect();
        let names: HashSet<_> = ITEMS.iter().map(|item| item.name).collect();

        assert_eq!(log_names.len(), ITEMS.len(), "a log name appears twice");
        assert_eq!(names.len(), ITEMS.len(), "an Indonesian name appears twice");
    }

    #[test]
    fn catalog_items_use_known_categories() {
        for item in &ITEMS {
            assert!(
                CATEGORIES.contains(&item.category),
                "{} has unknown category {}",
                item.log_name,
                item.category
            );
        }
    }

    #[test]
    fn catalog_prices_are_whole_thousands() {
        for item in &ITEMS {
            assert!(item.price > 0, "{} has no price", item.log_name);
            assert_eq!(item.price % 1_000, 0, "{} price is not whole thousands", item.log_name);
        }
    }

    #[test]
    fn find_item_ignores_surrounding_spaces() {
        let item = find_item("Coffee granules ").expect("the log writes a trailing space");

        assert_eq!(item.name, "Kopi Bubuk Instan");
        assert_eq!(find_item("Bread").map(|item| item.price), Some(18_000));
        assert_eq!(find_item("Croissant"), None);
    }
}
